"""Length-preserving text normalisation, so offsets into the normalised text are offsets into the note.

Full-width ASCII (``ＣＴ``, ``１２``) becomes half-width and Latin letters become upper case; every
character maps to exactly one character.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache

_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}
_TABLE: dict[int, int] = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_TABLE[0x3000] = 0x20
for _c, _u in list(_TABLE.items()):
    _TABLE[_c] = _UPPER.get(_u, _u)
_TABLE.update(_UPPER)


@lru_cache(maxsize=256)
def normalize(text: str) -> str:
    """Half-width, upper-case copy of ``text`` with the same length (memoised: every stage asks)."""
    return text.translate(_TABLE)


class Pieces:
    """Where a text breaks into pieces (sentences, clauses): ``piece(i)`` numbers the piece holding
    position ``i``; two positions are in the same piece when no boundary character lies between them."""

    def __init__(self, text: str, ends: frozenset[str]) -> None:
        pattern = "[" + re.escape("".join(sorted(ends))) + "]"
        self._pos = [m.start() for m in re.finditer(pattern, text)] if ends else []

    def piece(self, i: int) -> int:
        return bisect_left(self._pos, i)

    def same(self, a: int, b: int) -> bool:
        return bisect_left(self._pos, a) == bisect_left(self._pos, b)


def char_class(ch: str) -> str:
    """A coarse class of one character: digit, latin, han, punct or space."""
    if ch.isdigit():
        return "D"
    if "A" <= ch <= "Z" or "a" <= ch <= "z":
        return "L"
    if "\u4e00" <= ch <= "\u9fff":
        return "H"
    if ch.isspace():
        return "S"
    return "P"
