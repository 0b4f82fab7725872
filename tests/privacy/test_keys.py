"""Project keys: 0600 files apart from exports, stable pseudonyms, per-patient date shifts."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from medlake.errors import ConfigError, ValidationFailed
from medlake.privacy.keys import ProjectKey


def test_key_created_private_and_reused(tmp_path: Path) -> None:
    k1 = ProjectKey.load_or_create(tmp_path, "p1")
    path = tmp_path / "keys" / "p1.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    k2 = ProjectKey.load_or_create(tmp_path, "p1")
    assert k1.pseudonym(42) == k2.pseudonym(42)
    other = ProjectKey.load_or_create(tmp_path, "p2")
    assert other.pseudonym(42) != k1.pseudonym(42)


def test_readable_key_refused(tmp_path: Path) -> None:
    ProjectKey.load_or_create(tmp_path, "p1")
    os.chmod(tmp_path / "keys" / "p1.key", 0o644)
    with pytest.raises(ConfigError):
        ProjectKey.load_or_create(tmp_path, "p1")


def test_bad_project_code(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed):
        ProjectKey.load_or_create(tmp_path, "../evil")


def test_pseudonym_shape_and_shifts() -> None:
    key = ProjectKey(b"k" * 32)
    p = key.pseudonym("H00000123")
    assert p.startswith("p") and len(p) == 17 and p != key.pseudonym("H00000124")
    shifts = [key.shift_days(i, max_days=30) for i in range(2000)]
    assert all(-30 <= s <= 30 and s != 0 for s in shifts)
    assert len(set(shifts)) == 60  # every non-zero offset is used
    assert key.shift_days(7) == key.shift_days(7)
    with pytest.raises(ConfigError):
        ProjectKey(b"short")
