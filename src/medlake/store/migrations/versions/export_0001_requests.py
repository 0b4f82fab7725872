"""Export requests and their state history (medlake.export.models).

Revision ID: export_0001
Revises: 0001_initial
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "export_0001"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("dataset_name", sa.String(64), nullable=False),
        sa.Column("dataset_version", sa.Integer, nullable=False),
        sa.Column("spec_json", sa.Text, nullable=False),
        sa.Column("spec_sha256", sa.String(64), nullable=False),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("fields_json", sa.Text, nullable=False, server_default="[]"),
        sa.Column("formats", sa.String(64), nullable=False, server_default="parquet,csv"),
        sa.Column("dua_version", sa.String(32), nullable=False),
        sa.Column("dua_accepted_at", sa.DateTime, nullable=True),
        sa.Column("state", sa.String(16), nullable=False, server_default="draft"),
        sa.Column("steward", sa.String(64), nullable=True),
        sa.Column("steward_comment", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("submitted_at", sa.DateTime, nullable=True),
        sa.Column("decided_at", sa.DateTime, nullable=True),
        sa.Column("built_at", sa.DateTime, nullable=True),
        sa.Column("downloaded_at", sa.DateTime, nullable=True),
        sa.Column("expires_at", sa.DateTime, nullable=True),
        sa.Column("package_path", sa.String(500), nullable=True),
        sa.Column("manifest_sha256", sa.String(64), nullable=True),
        sa.Column("report_json", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_export_requests_project", "export_requests", ["project"])
    op.create_index("ix_export_requests_requester", "export_requests", ["requester"])
    op.create_index("ix_export_requests_state", "export_requests", ["state"])
    op.create_table(
        "export_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "request_id", sa.Integer, sa.ForeignKey("export_requests.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_export_events_request_id", "export_events", ["request_id"])


def downgrade() -> None:
    op.drop_table("export_events")
    op.drop_table("export_requests")
