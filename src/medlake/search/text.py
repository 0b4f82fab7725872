"""Character folding and bigram codes shared by the index builder, the query side and the snippets.

Folding maps one code point to one code point (so positions in folded text are positions in the
original): lower case where Python lowers a character to a single one, full-width ASCII forms
(``ＨＥＲ２``) to ASCII, and tabs, line breaks and the ideographic space to a plain space. A bigram
is coded as one integer, ``first << 21 | second``, so a term's bigrams are found by binary search
in a sorted array and the bigrams starting with one character form a contiguous range.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

END = ord(" ")  # pairs with a text's last character, so every character starts one bigram
CODE_SHIFT = 21  # code points are < 2**21


@lru_cache(maxsize=1)
def fold_table() -> np.ndarray:
    """Folded code point of each Basic Multilingual Plane code point (higher ones fold to themselves)."""
    table = np.arange(0x10000, dtype=np.uint32)
    for c in range(0x10000):
        low = chr(c).lower()
        if len(low) == 1 and low != chr(c):
            table[c] = ord(low)
    for c in range(0xFF01, 0xFF5F):  # full-width ASCII forms
        table[c] = table[c - 0xFEE0]
    for c in (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x3000, 0xA0):
        table[c] = END
    return table


@lru_cache(maxsize=1)
def _translation() -> dict[int, int]:
    table = fold_table()
    changed = np.flatnonzero(table != np.arange(0x10000, dtype=np.uint32))
    return {int(c): int(table[c]) for c in changed}


def fold(text: str) -> str:
    """The folded form of ``text``; same length, character for character."""
    return text.translate(_translation())


def fold_codes(codes: np.ndarray) -> np.ndarray:
    """Vectorised :func:`fold` over an array of code points (uint32)."""
    table = fold_table()
    low = codes < 0x10000
    out = codes.copy()
    out[low] = table[codes[low]]
    return out


def gram_code(first: str, second: str) -> int:
    return (ord(first) << CODE_SHIFT) | ord(second)
