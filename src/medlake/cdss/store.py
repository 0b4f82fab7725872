"""Cards issued and clinicians' feedback, kept in the application store.

Two tables of their own metadata (``cdss_card``, ``cdss_feedback``) live in the store database
(SQLite in the data dir or PostgreSQL): Alembic revision ``cdss_0001`` creates them, and a store that
was never migrated gets them on first use. Issued cards are buffered in memory and written in
batches so the scoring path never waits for a database commit; feedback is written at once (after
flushing the buffer so its card is there). Only the lake's person_id is kept.

Audit: with ``audit_dir`` (the data dir; the service always sets it) every batch of cards is
written in one transaction together with one entry of the hash-chained audit log (``cdss.cards``)
naming each card, its patient (person_id) and its caller, and the sha256 of the rows; so every
call is in the chain, at one chained append per batch instead of one commit per call. A batch that
fails to commit goes back to the buffer. The buffer is flushed every ``autoflush`` seconds by a
background thread, when it holds ``batch`` cards, before any read, on ``close()`` and at interpreter
exit (``atexit``): a clean shutdown loses nothing; a killed process loses at most the last
``autoflush`` seconds of cards.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
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
    inspect,
    select,
)
from sqlalchemy.orm import Session

from medlake.errors import StoreError

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


def _rows_digest(rows: list[dict[str, Any]]) -> str:
    canonical = json.dumps(rows, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _flush_at_exit(ref: weakref.ref[CdsStore]) -> None:
    store = ref()
    if store is not None:
        store.close()


class CdsStore:
    def __init__(
        self,
        engine: Engine,
        *,
        batch: int = 200,
        audit_dir: Path | None = None,
        autoflush: float | None = None,
    ) -> None:
        self.engine = engine
        self.batch = batch
        self.audit_dir = audit_dir
        self._buffer: list[tuple[dict[str, Any], str]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one batch at a time: chain entries follow card order
        metadata.create_all(engine, checkfirst=True)
        if audit_dir is not None and not inspect(engine).has_table("audit_state"):
            raise StoreError(
                "the application store has no audit log tables",
                hint="Run `medlake db upgrade` first.",
            )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        if autoflush:
            self._thread = threading.Thread(
                target=self._flush_every, args=(autoflush,), name="cdss-card-flush", daemon=True
            )
            self._thread.start()
        atexit.register(_flush_at_exit, weakref.ref(self))

    def _flush_every(self, seconds: float) -> None:
        while True:
            self._wake.wait(seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.flush()
            except Exception:  # kept in the buffer; logged, retried at the next tick
                import logging

                logging.getLogger(__name__).exception("writing issued CDS cards failed; will retry")

    def log_card(self, rec: CardRecord, actor: str = "cds-client") -> None:
        with self._lock:
            self._buffer.append((rec.__dict__.copy(), actor))
            full = len(self._buffer) >= self.batch
        if full and self._thread is not None:
            self._wake.set()  # the background thread writes the batch; the call does not wait
        elif full:
            self.flush()

    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    def flush(self) -> int:
        """Write the buffered cards (and their audit entry) in one transaction; returns how many."""
        with self._flush_lock:
            with self._lock:
                items, self._buffer = self._buffer, []
            if not items:
                return 0
            rows = [row for row, _ in items]
            try:
                info = {"data_dir": str(Path(self.audit_dir).resolve())} if self.audit_dir else {}
                with Session(self.engine, info=info) as session, session.begin():
                    session.execute(insert(cdss_card), rows)
                    if self.audit_dir is not None:
                        from medlake.audit import append

                        cards = [
                            [row["uuid"], row["service_id"], row["person_id"], actor] for row, actor in items
                        ]
                        append(
                            session,
                            "cds-hooks",
                            "cdss.cards",
                            f"cdss_card:{rows[0]['uuid']}..{rows[-1]['uuid']}"[:255],
                            {"n": len(rows), "rows_sha256": _rows_digest(rows), "cards": cards},
                        )
            except BaseException:
                with self._lock:
                    self._buffer[:0] = items  # nothing is dropped: retried at the next flush
                raise
            return len(rows)

    def close(self) -> None:
        """Stop the background flush and write what is buffered (idempotent)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self.flush()

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
