"""Cards issued and clinicians' feedback, kept in the application store.

Two tables of their own metadata (``cdss_card``, ``cdss_feedback``) live in the store database
(SQLite in the data dir or PostgreSQL): Alembic revision ``cdss_0001`` creates them, and a store that
was never migrated (the standalone service) gets them on first use. Issued cards are buffered in memory and
written in batches so the scoring path never waits for a database commit; feedback is written at
once (after flushing the buffer so its card is there). Only the lake's person_id is kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
)

metadata = MetaData()

cdss_card = Table(
    "cdss_card",
    metadata,
    Column("uuid", String(36), primary_key=True),
    Column("service_id", String(64), index=True),
    Column("task", String(64), index=True),
    Column("version", Integer),
    Column("person_id", BigInteger, nullable=True),
    Column("hook", String(32)),
    Column("risk", Float),
    Column("band", String(16)),
    Column("features", Text, default="[]"),
    Column("created_at", DateTime, index=True),
)

cdss_feedback = Table(
    "cdss_feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("card_uuid", String(64), index=True),
    Column("service_id", String(64), index=True),
    Column("task", String(64), index=True),
    Column("version", Integer, nullable=True),
    Column("outcome", String(16)),
    Column("override_code", String(64), default=""),
    Column("override_display", String(255), default=""),
    Column("comment", Text, default=""),
    Column("outcome_at", DateTime, nullable=True),
    Column("received_at", DateTime),
)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class CardRecord:
    uuid: str
    service_id: str
    task: str
    version: int
    person_id: int | None
    hook: str
    risk: float
    band: str
    features: str
    created_at: datetime


class CdsStore:
    def __init__(self, engine: Engine, *, batch: int = 200) -> None:
        self.engine = engine
        self.batch = batch
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        metadata.create_all(engine, checkfirst=True)

    def log_card(self, rec: CardRecord) -> None:
        with self._lock:
            self._buffer.append(rec.__dict__.copy())
            full = len(self._buffer) >= self.batch
        if full:
            self.flush()

    def flush(self) -> int:
        with self._lock:
            rows, self._buffer = self._buffer, []
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(cdss_card), rows)
        return len(rows)

    def card(self, uuid: str) -> dict[str, Any] | None:
        self.flush()
        with self.engine.connect() as conn:
            row = conn.execute(select(cdss_card).where(cdss_card.c.uuid == uuid)).mappings().first()
        return dict(row) if row else None

    def add_feedback(self, rows: list[dict[str, Any]]) -> int:
        self.flush()
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(insert(cdss_feedback), [r | {"received_at": now} for r in rows])
        return len(rows)

    def cards(self, task: str, version: int | None = None) -> list[dict[str, Any]]:
        self.flush()
        q = select(cdss_card).where(cdss_card.c.task == task)
        if version is not None:
            q = q.where(cdss_card.c.version == version)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q.order_by(cdss_card.c.created_at)).mappings()]

    def feedback(self, task: str, version: int | None = None) -> list[dict[str, Any]]:
        q = select(cdss_feedback).where(cdss_feedback.c.task == task)
        if version is not None:
            q = q.where(cdss_feedback.c.version == version)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q.order_by(cdss_feedback.c.id)).mappings()]

    def counts(self) -> dict[str, int]:
        self.flush()
        with self.engine.connect() as conn:
            cards = conn.execute(select(func.count()).select_from(cdss_card)).scalar_one()
            fb = conn.execute(select(func.count()).select_from(cdss_feedback)).scalar_one()
        return {"cards": int(cards), "feedback": int(fb)}
