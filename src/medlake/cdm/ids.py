"""Stable 63-bit ids derived from source keys, identical in Python and in DuckDB SQL.

A CDM row's id is ``stable_id(namespace, source key)``: re-ingesting the same record gives the
same id, so re-runs are idempotent and incremental loads never renumber what is already there.
"""

from __future__ import annotations

import hashlib

_MASK = 0x7FFF_FFFF_FFFF_FFFF


def stable_id(namespace: str, key: str) -> int:
    digest = hashlib.md5(f"{namespace}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & _MASK


def stable_id_sql(namespace: str, key_expr: str) -> str:
    """SQL (DuckDB) for ``stable_id(namespace, <key_expr>)``; ``namespace`` must be a plain identifier."""
    if not namespace.replace("_", "").replace(":", "").isalnum():
        raise ValueError(f"namespace must be alphanumeric: {namespace!r}")
    return f"CAST(md5_number_upper('{namespace}|' || CAST({key_expr} AS VARCHAR)) & {_MASK} AS BIGINT)"
