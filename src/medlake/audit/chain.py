"""Appending to the chain: canonical JSON of the fields (incl. ``prev_hash``), sha256, one at a time.

Appends are serialised on the single ``audit_state`` row: an ``UPDATE`` takes the row lock on
PostgreSQL (and the write lock on SQLite) before the last hash is read, so two writers can never
chain onto the same predecessor. The head checkpoint outside the database is written after the
session commits (``after_commit`` hook), so it never names an entry that was rolled back.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from medlake.audit.head import write_head
from medlake.errors import StoreError
from medlake.store.models import AuditEntry, AuditState

GENESIS = "0" * 64
_PENDING_KEY = "medlake_audit_head"
_HOOKED_KEY = "medlake_audit_hooked"


def canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_hash(seq: int, ts: str, actor: str, action: str, obj: str, details: str, prev_hash: str) -> str:
    """sha256 over the canonical JSON of every field of an entry, its predecessor's hash included."""
    fields = {
        "seq": seq,
        "ts": ts,
        "actor": actor,
        "action": action,
        "object": obj,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(fields)).hexdigest()


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _after_commit(session: Session) -> None:
    head = session.info.pop(_PENDING_KEY, None)
    data_dir = session.info.get("data_dir")
    if head is not None and data_dir:
        write_head(data_dir, head[0], head[1])


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def _hook(session: Session) -> None:
    if session.info.get(_HOOKED_KEY):
        return
    event.listen(session, "after_commit", _after_commit)
    event.listen(session, "after_soft_rollback", lambda s, _tx: _after_rollback(s))
    session.info[_HOOKED_KEY] = True


def append(
    session: Session, actor: str, action: str, obj: str = "", details: dict[str, Any] | None = None
) -> AuditEntry:
    """Append one entry in the session's transaction and return it (committed by the caller)."""
    details_json = json.dumps(details or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    locked = session.execute(
        update(AuditState)
        .where(AuditState.id == 1)
        .values(last_seq=AuditState.last_seq)
        .execution_options(synchronize_session=False)
    )
    if getattr(locked, "rowcount", 1) == 0:
        raise StoreError("the audit_state row is missing")
    state = session.execute(
        select(AuditState)
        .where(AuditState.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    seq = state.last_seq + 1
    ts = _now_iso()
    digest = entry_hash(seq, ts, actor, action, obj, details_json, state.last_hash)
    entry = AuditEntry(
        seq=seq,
        ts=ts,
        actor=actor,
        action=action,
        object=obj,
        details=details_json,
        prev_hash=state.last_hash,
        hash=digest,
    )
    session.add(entry)
    state.last_seq = seq
    state.last_hash = digest
    session.flush()
    _hook(session)
    session.info[_PENDING_KEY] = (seq, digest)
    return entry
