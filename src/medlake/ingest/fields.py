"""Field parsers for source records: each returns a typed value or raises ``FieldError`` with
a reason a data engineer can act on (the reason goes to the quarantine table)."""

from __future__ import annotations

from datetime import date, datetime

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


class FieldError(ValueError):
    pass


def resident_id_check_digit(first17: str) -> str:
    """GB 11643 (ISO 7064 MOD 11-2) check character for the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def valid_resident_id(value: str) -> bool:
    v = value.strip().upper()
    if len(v) != 18 or not v[:17].isdigit() or not (v[17].isdigit() or v[17] == "X"):
        return False
    if resident_id_check_digit(v[:17]) != v[17]:
        return False
    try:
        date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return False
    return True


def parse_date(value: str, name: str) -> date:
    v = value.strip()
    try:
        if len(v) == 8 and v.isdigit():
            return date(int(v[:4]), int(v[4:6]), int(v[6:8]))
        return date.fromisoformat(v[:10].replace("/", "-"))
    except ValueError:
        raise FieldError(f"bad date in {name}: {v!r}") from None


def parse_datetime(value: str, name: str) -> datetime:
    v = value.strip().replace("/", "-")
    try:
        if len(v) == 10:
            return datetime.fromisoformat(v)
        return datetime.fromisoformat(v)
    except ValueError:
        raise FieldError(f"bad date/time in {name}: {value.strip()!r}") from None


def parse_float(value: str, name: str) -> float | None:
    v = value.strip()
    if not v:
        return None
    try:
        return float(v)
    except ValueError:
        raise FieldError(f"not a number in {name}: {v!r}") from None
