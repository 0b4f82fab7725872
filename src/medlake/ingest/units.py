"""Unit strings as source systems write them → UCUM codes, from the data file ``ucum_units.csv``.

Lookup is case-insensitive on the trimmed unit; a unit already written as a known UCUM code maps
to itself. Unknown units map to None and callers keep only ``unit_source_value``.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from medlake.errors import VocabularyError

UNITS_FILE = Path(__file__).with_name("ucum_units.csv")
_HEADER = ["source_unit", "ucum_code"]


def load_units(path: Path = UNITS_FILE) -> dict[str, str]:
    """Parse the unit map strictly: the exact header, two non-empty cells a row, no duplicates."""
    out: dict[str, str] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, None)
        if header != _HEADER:
            raise VocabularyError(f"{path.name}: header must be {','.join(_HEADER)}, got {header}")
        for lineno, row in enumerate(rows, start=2):
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                raise VocabularyError(f"{path.name}:{lineno}: expected two non-empty cells, got {row}")
            key = row[0].strip().lower()
            if key in out:
                raise VocabularyError(f"{path.name}:{lineno}: duplicate unit {row[0]!r}")
            out[key] = row[1].strip()
    for code in list(out.values()):
        out.setdefault(code.lower(), code)
    return out


@lru_cache(maxsize=1)
def _default_units() -> dict[str, str]:
    return load_units()


def to_ucum(unit: str | None) -> str | None:
    """The UCUM code for a source unit string, or None when it is unknown or empty."""
    if not unit or not unit.strip():
        return None
    return _default_units().get(unit.strip().lower())
