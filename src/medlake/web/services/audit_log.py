"""Filtering the audit log for the audit page and API (admins and stewards)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medlake.store.models import AuditEntry

PAGE_SIZE = 100


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    obj: str = ""
    since: str = ""
    until: str = ""


def query(
    session: Session, f: AuditFilter, *, limit: int = PAGE_SIZE, offset: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    q = select(AuditEntry)
    if f.actor:
        q = q.where(AuditEntry.actor == f.actor)
    if f.action:
        q = q.where(AuditEntry.action.startswith(f.action, autoescape=True))
    if f.obj:
        q = q.where(AuditEntry.object.contains(f.obj, autoescape=True))
    if f.since:
        q = q.where(AuditEntry.ts >= f.since)
    if f.until:
        q = q.where(AuditEntry.ts < f.until + "~")  # '~' sorts after every ISO time character
    total = session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    rows = session.execute(q.order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)).scalars()
    return total, [
        {
            "seq": r.seq,
            "ts": r.ts,
            "actor": r.actor,
            "action": r.action,
            "object": r.object,
            "details": r.details,
            "hash": r.hash,
        }
        for r in rows
    ]
