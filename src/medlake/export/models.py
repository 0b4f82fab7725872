"""Export requests and their state history, on the application store's declarative ``Base``.

The tables are created by the Alembic revision ``export_0001`` in ``medlake/store/migrations``.
A request keeps a frozen copy of the dataset specification it was approved for, so what is built
is exactly what the steward saw.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from medlake.store.models import Base, utcnow

STATES = ("draft", "submitted", "approved", "rejected", "built", "downloaded", "expired")


class ExportRequest(Base):
    __tablename__ = "export_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project: Mapped[str] = mapped_column(String(64), index=True)
    dataset_name: Mapped[str] = mapped_column(String(64))
    dataset_version: Mapped[int] = mapped_column(Integer)
    spec_json: Mapped[str] = mapped_column(Text)
    spec_sha256: Mapped[str] = mapped_column(String(64))
    requester: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    fields_json: Mapped[str] = mapped_column(Text, default="[]")
    formats: Mapped[str] = mapped_column(String(64), default="parquet,csv")
    dua_version: Mapped[str] = mapped_column(String(32))
    dua_accepted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True, default="draft")
    steward: Mapped[str | None] = mapped_column(String(64), nullable=True)
    steward_comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    built_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    downloaded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    package_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    report_json: Mapped[str] = mapped_column(Text, default="{}")

    events: Mapped[list[ExportEvent]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="ExportEvent.id"
    )


class ExportEvent(Base):
    """One state transition of a request (the audit chain holds the tamper-evident copy)."""

    __tablename__ = "export_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("export_requests.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")

    request: Mapped[ExportRequest] = relationship(back_populates="events")
