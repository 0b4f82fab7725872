"""Identity attributes, normalised: GB 11643 resident ids, pinyin of Chinese names, masking.

The pinyin of a name is built per character (toneless, ``lazy_pinyin`` of the character alone), so
that homophones always get the same spelling — 张伟 and 章伟 are both ``zhangwei`` — which is what
linkage needs, even where a name's reading in context would differ. Names already in pinyin (PACS
``ZHANG^SAN``) are lower-cased with the separators removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pypinyin import lazy_pinyin

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_RID_RE = re.compile(r"^\d{17}[\dX]$")
_CJK_RE = re.compile(r"[\u3400-\u9fff]")
_LATIN_RE = re.compile(r"[^a-z]")


def resident_id_check_digit(body17: str) -> str:
    """GB 11643 check character (ISO 7064 MOD 11-2) of the first 17 digits."""
    if len(body17) != 17 or not body17.isdigit():
        raise ValueError("a resident id body is 17 digits")
    return _CHECK[sum(int(d) * w for d, w in zip(body17, _WEIGHTS, strict=True)) % 11]


def valid_resident_id(rid: str | None) -> bool:
    """True for an 18-character id whose check character is right."""
    if not rid:
        return False
    rid = rid.strip().upper()
    return bool(_RID_RE.match(rid)) and resident_id_check_digit(rid[:17]) == rid[17]


def char_pinyin(chars: Iterable[str]) -> dict[str, str]:
    """Toneless pinyin of each (CJK) character, looked up one character at a time."""
    return {ch: lazy_pinyin(ch)[0].lower() for ch in chars if _CJK_RE.match(ch)}


def name_pinyin(name: str | None, table: dict[str, str]) -> tuple[str | None, str | None]:
    """(full pinyin, surname pinyin) of a Chinese name or of a pinyin name such as ``ZHANG^SAN``."""
    if not name or not name.strip():
        return None, None
    name = name.strip()
    if _CJK_RE.search(name):
        chars = [ch for ch in name if not ch.isspace() and ch not in "·•^"]
        if not chars:
            return None, None
        return "".join(table.get(ch, ch.lower()) for ch in chars), table.get(chars[0], chars[0].lower())
    lowered = name.lower()
    family = _LATIN_RE.sub("", re.split(r"[\^ ,]", lowered, maxsplit=1)[0])
    full = _LATIN_RE.sub("", lowered)
    return (full or None), (family or None)


def mask(value: object, keep: int = 1) -> str:
    """A partially masked identifier for logs and review listings: ``张*``, ``138****5678``."""
    if value is None:
        return ""
    text = str(value)
    if not text:
        return ""
    if len(text) >= 11:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    if len(text) <= keep:
        return "*" * len(text)
    return text[:keep] + "*" * (len(text) - keep)
