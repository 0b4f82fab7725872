"""The raw zone: every input file is hashed and copied, immutable, before anything reads it.

``capture`` returns the sha256; the copy lives at ``raw/<sha[:2]>/<sha>`` (written aside, then
renamed), so the same bytes are stored once however often they are offered.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def capture(raw_dir: Path, path: Path, sha256: str) -> Path:
    """Copy ``path`` into the raw zone under its sha256 (no-op when already there)."""
    target = raw_dir / sha256[:2] / sha256
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{sha256}.{os.getpid()}.tmp")
    shutil.copyfile(path, tmp)
    os.chmod(tmp, 0o444)
    os.replace(tmp, target)
    return target
