"""CDS Hooks cards issued and clinicians' feedback (medlake.cdss.store).

Revision ID: cdss_0001
Revises: export_0001
Create Date: 2026-11-22

``medlake.cdss.store`` also creates these tables on first use when a store was never migrated (the
standalone CDS service), so each table is created here only if it is not there yet.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "cdss_0001"
down_revision = "export_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "cdss_card" not in existing:
        op.create_table(
            "cdss_card",
            sa.Column("uuid", sa.String(36), primary_key=True),
            sa.Column("service_id", sa.String(64)),
            sa.Column("task", sa.String(64)),
            sa.Column("version", sa.Integer),
            sa.Column("person_id", sa.BigInteger, nullable=True),
            sa.Column("hook", sa.String(32)),
            sa.Column("risk", sa.Float),
            sa.Column("band", sa.String(16)),
            sa.Column("features", sa.Text),
            sa.Column("created_at", sa.DateTime),
        )
        op.create_index("ix_cdss_card_service_id", "cdss_card", ["service_id"])
        op.create_index("ix_cdss_card_task", "cdss_card", ["task"])
        op.create_index("ix_cdss_card_created_at", "cdss_card", ["created_at"])
    if "cdss_feedback" not in existing:
        op.create_table(
            "cdss_feedback",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("card_uuid", sa.String(64)),
            sa.Column("service_id", sa.String(64)),
            sa.Column("task", sa.String(64)),
            sa.Column("version", sa.Integer, nullable=True),
            sa.Column("outcome", sa.String(16)),
            sa.Column("override_code", sa.String(64)),
            sa.Column("override_display", sa.String(255)),
            sa.Column("comment", sa.Text),
            sa.Column("outcome_at", sa.DateTime, nullable=True),
            sa.Column("received_at", sa.DateTime),
        )
        op.create_index("ix_cdss_feedback_card_uuid", "cdss_feedback", ["card_uuid"])
        op.create_index("ix_cdss_feedback_service_id", "cdss_feedback", ["service_id"])
        op.create_index("ix_cdss_feedback_task", "cdss_feedback", ["task"])


def downgrade() -> None:
    op.drop_table("cdss_feedback")
    op.drop_table("cdss_card")
