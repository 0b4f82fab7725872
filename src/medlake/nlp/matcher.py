"""Aho–Corasick dictionary matching over normalised text (pyahocorasick).

``DictMatcher.hits`` gives every hit; ``DictMatcher.spans`` picks the longest non-overlapping hits
left to right, preferring a hospital's own terms, then built-in ones, then the rest. A latin/digit
term only matches on latin/digit boundaries, so ``CT`` does not fire inside ``PCT``.
"""

from __future__ import annotations

from dataclasses import dataclass

import ahocorasick

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
    """An automaton over a lexicon's terms; each term keeps its best (type, source, code)."""

    def __init__(self, lexicon: Lexicon) -> None:
        self._auto = ahocorasick.Automaton()
        for term, entries in lexicon.terms.items():
            ranked = sorted(entries, key=lambda e: (SOURCE_RANK.get(e[1], 9), _TYPE_RANK.get(e[0], 9)))
            types = tuple(dict.fromkeys(e[0] for e in ranked))
            best = ranked[0]
            self._auto.add_word(term, (len(term), best[0], best[1], best[2], types))
        self._empty = len(lexicon.terms) == 0
        if not self._empty:
            self._auto.make_automaton()

    def raw_hits(self, norm: str) -> list[tuple[int, int, str, str, str, tuple[str, ...]]]:
        """``(start, end, type, source, code, all_types)`` for every hit in already-normalised text."""
        if self._empty:
            return []
        out = []
        n = len(norm)
        for end_idx, (length, etype, source, code, types) in self._auto.iter(norm):
            start = end_idx - length + 1
            end = end_idx + 1
            if _is_alnum(norm[start]) and start > 0 and _is_alnum(norm[start - 1]):
                continue
            if _is_alnum(norm[end_idx]) and end < n and _is_alnum(norm[end]):
                continue
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
