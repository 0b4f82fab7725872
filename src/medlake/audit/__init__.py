"""The hash-chained audit log: append entries from any feature, verify the chain end to end.

Call ``append(session, actor, action, obj, details)`` inside the caller's transaction; the entry
becomes visible (and the head checkpoint file in the data dir is rewritten) when the session
commits. ``verify(settings)`` recomputes every hash and reports the first broken ``seq``.
"""

from medlake.audit.chain import GENESIS, append, entry_hash
from medlake.audit.head import read_head, write_head
from medlake.audit.verify import VerifyResult, verify, verify_session

__all__ = [
    "GENESIS",
    "VerifyResult",
    "append",
    "entry_hash",
    "read_head",
    "verify",
    "verify_session",
    "write_head",
]
