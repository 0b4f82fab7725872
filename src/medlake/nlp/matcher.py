"""Dictionary matching over normalised text: every occurrence of every lexicon term.

The terms form a character trie kept as a hash table ``(node, code point) → child`` and walked from
every position by compiled code (numba); hits come out in Aho–Corasick order (by end, longest
first). ``DictMatcher.hits`` gives every hit; ``DictMatcher.spans`` picks the longest non-overlapping hits
left to right, preferring a hospital's own terms, then built-in ones, then the rest. A latin/digit
term only matches on latin/digit boundaries, so ``CT`` does not fire inside ``PCT``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from medlake.nlp.inttable import IntArray, new_table, table_get
from medlake.nlp.lexicon import Lexicon
from medlake.nlp.textnorm import normalize
from medlake.nlp.types import ENTITY_TYPES

SOURCE_RANK = {"hospital": 0, "builtin": 1, "icd10": 2, "cmekg": 3, "gazetteer": 4}
_TYPE_RANK = {t: i for i, t in enumerate(ENTITY_TYPES)}


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    type: str
    source: str
    code: str


def _is_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class DictMatcher:
    """A trie over a lexicon's terms; each term keeps its best (type, source, code)."""

    def __init__(self, lexicon: Lexicon) -> None:
        children: dict[int, int] = {}  # (node << 21 | code point) -> child node
        terminal: dict[int, int] = {}  # node -> index into self._values
        self._values: list[tuple[str, str, str, tuple[str, ...], tuple[bool, bool]]] = []
        self._max_len = 0
        for term, entries in lexicon.terms.items():
            if not term:
                continue
            ranked = sorted(entries, key=lambda e: (SOURCE_RANK.get(e[1], 9), _TYPE_RANK.get(e[0], 9)))
            types = tuple(dict.fromkeys(e[0] for e in ranked))
            best = ranked[0]
            node = 0
            for ch in term:
                key = (node << 21) | ord(ch)
                nxt = children.get(key)
                if nxt is None:
                    nxt = children[key] = len(children) + 1
                node = nxt
            # whether the term starts/ends with a latin letter or digit (only then are boundaries checked)
            edges = _is_alnum(term[0]), _is_alnum(term[-1])
            terminal[node] = len(self._values)
            self._values.append((best[0], best[1], best[2], types, edges))
            self._max_len = max(self._max_len, len(term))
        self._keys, self._children, self._bits = new_table(
            np.fromiter(children.keys(), dtype=np.int64, count=len(children)),
            np.fromiter(children.values(), dtype=np.int64, count=len(children)),
        )
        # the root's children in a flat array over the BMP: most positions start no term at all
        self._root = np.full(0x10000, -1, dtype=np.int64)
        for key, child in children.items():
            if key < 0x10000:  # node 0
                self._root[key] = child
        self._terminal = np.full(len(children) + 1, -1, dtype=np.int64)
        self._terminal[list(terminal)] = list(terminal.values())
        self._edges = np.array([v[4] for v in self._values], dtype=np.bool_).reshape(-1, 2)
        self._empty = not self._values

    @property
    def values(self) -> list[tuple[str, str, str, tuple[str, ...], tuple[bool, bool]]]:
        """Per term id: ``(type, source, code, all_types, latin edges)``."""
        return self._values

    def hit_arrays(self, norm: str) -> tuple[IntArray, IntArray, IntArray]:
        """``(starts, ends, term ids)`` of every hit in already-normalised text, by end, longest first."""
        empty = np.zeros(0, dtype=np.int64)
        if self._empty or not norm:
            return empty, empty, empty
        cps = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        starts, ends, which = _walk(
            cps, self._root, self._keys, self._children, self._bits, self._terminal, self._max_len
        )
        edges = self._edges[which]
        if edges.any():  # a latin/digit term only matches on latin/digit boundaries
            alnum = _ascii_alnum(cps)
            before = np.zeros(len(starts), dtype=np.bool_)
            inner = starts > 0
            before[inner] = alnum[starts[inner] - 1]
            after = np.zeros(len(ends), dtype=np.bool_)
            inner = ends < len(cps)
            after[inner] = alnum[ends[inner]]
            ok = ~((edges[:, 0] & before) | (edges[:, 1] & after))
            starts, ends, which = starts[ok], ends[ok], which[ok]
        return starts, ends, which

    def raw_hits(self, norm: str) -> list[tuple[int, int, str, str, str, tuple[str, ...]]]:
        """``(start, end, type, source, code, all_types)`` for every hit in already-normalised text."""
        starts, ends, which = self.hit_arrays(norm)
        values = self._values
        out = []
        for start, end, v in zip(starts.tolist(), ends.tolist(), which.tolist(), strict=True):
            etype, source, code, types, _ = values[v]
            out.append((start, end, etype, source, code, types))
        return out

    def hits(self, text: str) -> list[Hit]:
        return [Hit(s, e, t, src, c) for s, e, t, src, c, _ in self.raw_hits(normalize(text))]

    def spans(self, text: str) -> list[Hit]:
        """Longest non-overlapping hits (ties: better source), in text order."""
        hits = self.hits(text)
        hits.sort(key=lambda h: (-(h.end - h.start), SOURCE_RANK.get(h.source, 9), h.start))
        taken = bytearray(len(text) + 1)
        chosen: list[Hit] = []
        for h in hits:
            if any(taken[h.start : h.end]):
                continue
            taken[h.start : h.end] = b"\x01" * (h.end - h.start)
            chosen.append(h)
        chosen.sort(key=lambda h: h.start)
        return chosen


def _ascii_alnum(cps: IntArray) -> npt.NDArray[np.bool_]:
    return ((cps >= 48) & (cps <= 57)) | ((cps >= 65) & (cps <= 90)) | ((cps >= 97) & (cps <= 122))


@numba.njit(cache=True)
def _walk(
    cps: IntArray,
    root: IntArray,
    keys: IntArray,
    children: IntArray,
    bits: int,
    terminal: IntArray,
    max_len: int,
) -> tuple[IntArray, IntArray, IntArray]:
    """Every (start, end, term) whose term occurs at ``cps[start:end]``, by end then longest first."""
    n = len(cps)
    starts, ends, which = [0], [0], [0]  # typed lists (the first item is dropped)
    for i in range(n):
        c = cps[i]
        node = root[c] if c < 0x10000 else table_get(keys, children, 0, bits, c)
        if node < 0:
            continue
        for j in range(i, min(n, i + max_len)):
            if j > i:
                node = table_get(keys, children, 0, bits, (node << 21) | cps[j])
                if node < 0:
                    break
            if terminal[node] >= 0:
                starts.append(i)
                ends.append(j + 1)
                which.append(terminal[node])
    s, e, w = (
        np.array(starts[1:], dtype=np.int64),
        np.array(ends[1:], dtype=np.int64),
        np.array(which[1:], dtype=np.int64),
    )
    order = np.argsort(e * (n + 1) + s)  # by end, then start ascending = longest first
    return s[order], e[order], w[order]
