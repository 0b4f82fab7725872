"""The head checkpoint: ``<data_dir>/audit-head.json`` with the last committed seq and hash.

Kept outside the database so that deleting the newest entries (truncation), which leaves a
perfectly consistent shorter chain, is still detected. Written aside and renamed (atomic).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any

from medlake.errors import StoreError

HEAD_FILE = "audit-head.json"


def head_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / HEAD_FILE


def write_head(data_dir: Path | str, seq: int, digest: str) -> None:
    """Move the checkpoint forward to ``seq`` (never backward), under a file lock."""
    path = head_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{HEAD_FILE}.lock"), "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            current = read_head(data_dir)
            if current is not None and current[0] > seq:
                return  # a concurrent writer already committed a later entry
            tmp = path.with_name(f".{HEAD_FILE}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps({"seq": seq, "hash": digest}) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def read_head(data_dir: Path | str) -> tuple[int, str] | None:
    path = head_path(data_dir)
    if not path.exists():
        return None
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
        seq, digest = raw["seq"], raw["hash"]
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"unreadable audit head checkpoint {path}") from exc
    if not isinstance(seq, int) or not isinstance(digest, str) or set(raw) != {"seq", "hash"}:
        raise StoreError(f"malformed audit head checkpoint {path}")
    return seq, digest
