"""Verifying the chain: recompute every hash in seq order, then compare with the head checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from medlake.audit.chain import GENESIS, entry_hash
from medlake.audit.head import read_head
from medlake.settings import Settings
from medlake.store.engine import session_factory
from medlake.store.models import AuditEntry


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    broken_seq: int | None = None
    reason: str = ""
    head_seq: int | None = None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "broken_seq": self.broken_seq,
            "reason": self.reason,
            "head_seq": self.head_seq,
        }


def verify_session(session: Session, data_dir: str | None) -> VerifyResult:
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
    for row in rows:
        count += 1
        if row.seq != expected_seq:
            return VerifyResult(
                False, count, expected_seq, f"entry {expected_seq} is missing (next is {row.seq})"
            )
        if row.prev_hash != prev_hash:
            return VerifyResult(False, count, row.seq, "prev_hash does not match the previous entry")
        digest = entry_hash(row.seq, row.ts, row.actor, row.action, row.object, row.details, row.prev_hash)
        if digest != row.hash:
            return VerifyResult(False, count, row.seq, "content does not match its hash (edited)")
        prev_hash = row.hash
        expected_seq += 1
    last_seq = expected_seq - 1
    head = read_head(data_dir) if data_dir else None
    if head is None:
        return VerifyResult(True, count, head_seq=None, reason="no head checkpoint" if count else "")
    head_seq, head_hash = head
    if head_seq > last_seq:
        return VerifyResult(
            False,
            count,
            last_seq + 1,
            f"chain ends at {last_seq} but the head checkpoint says {head_seq} (truncated)",
        )
    if head_seq >= 1:
        at_head = session.get(AuditEntry, head_seq)
        if at_head is None or at_head.hash != head_hash:
            return VerifyResult(
                False, count, head_seq, "entry differs from the head checkpoint", head_seq=head_seq
            )
    return VerifyResult(True, count, head_seq=head_seq)


def verify(settings: Settings) -> VerifyResult:
    with session_factory(settings)() as session:
        return verify_session(session, str(settings.data_dir.resolve()))
