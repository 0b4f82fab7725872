"""Answer note searches from the index segments: exact counts from postings, a page, snippets.

Per segment, each term becomes a boolean mask over the segment's notes, built from its postings
with vectorised numpy: a two-character term is one bigram's postings; a single character is the
contiguous run of bigrams it starts; a longer phrase intersects the postings of bigrams at offsets
0, 2, 4, ... and the last one, shifted to the phrase start (``searchsorted`` of the rarest into the
others), which is exact because every character is covered and notes are ``stride`` apart — no
note text is read and no bigram false positive survives. AND / OR / NOT are ``& | ~`` on the masks,
so the count of matching notes is exact for every query. Notes are numbered in result order
(newest first), so a segment's first hits are its best; the page is merged across segments by
``(note_date desc, note_id)`` and only the page's notes are read, to cut highlighted snippets.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medlake.cdm.lake import Lake
from medlake.search.index import open_segments, update_index
from medlake.search.query import Node, Not, Or, Term, all_terms, parse_query, positive_terms
from medlake.search.segment import Segment
from medlake.search.text import CODE_SHIFT, fold, gram_code


@dataclass
class Hit:
    note_id: int
    person_id: int | None
    note_date: str | None
    title: str | None
    doc_type: str | None
    snippet: str
    highlights: list[tuple[int, int]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "note_id": self.note_id,
            "person_id": self.person_id,
            "note_date": self.note_date,
            "title": self.title,
            "doc_type": self.doc_type,
            "snippet": self.snippet,
            "highlights": [list(h) for h in self.highlights],
        }


@dataclass
class SearchResult:
    query: str
    total: int
    hits: list[Hit]
    took_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "total": self.total,
            "took_ms": round(self.took_ms, 1),
            "hits": [h.as_dict() for h in self.hits],
        }


def phrase_offsets(n: int) -> list[int]:
    """Bigram offsets that cover a phrase of ``n >= 3`` characters: 0, 2, 4, ... and the last."""
    return sorted(set(range(0, n - 1, 2)) | {n - 2})


def term_mask(seg: Segment, text: str) -> np.ndarray:
    """Notes of ``seg`` containing the folded ``text`` (exact)."""
    if len(text) == 1:
        lo = ord(text) << CODE_SHIFT
        return seg.docs_mask(seg.range_keys(lo, lo + (1 << CODE_SHIFT)))
    if len(text) == 2:
        return seg.docs_mask(seg.gram_keys(gram_code(text[0], text[1])))
    lists = [(seg.gram_keys(gram_code(text[o], text[o + 1])), o) for o in phrase_offsets(len(text))]
    lists.sort(key=lambda kv: len(kv[0]))
    rarest, off = lists[0]
    if not len(rarest):
        return np.zeros(seg.n, dtype=bool)
    starts = rarest.astype(np.int64) - off  # candidate phrase starts, as keys
    starts = starts[starts >= 0]
    for keys, o in lists[1:]:
        want = (starts + o).astype(keys.dtype)
        idx = np.searchsorted(keys, want)
        idx[idx == len(keys)] = 0
        starts = starts[keys[idx] == want]
        if not len(starts):
            break
    mask = np.zeros(seg.n, dtype=bool)
    mask[starts // seg.stride] = True
    return mask


class NoteSearcher:
    """An open snapshot of the index (memory-mapped segments); reuse it for many queries.

    Opening reads only the manifest and maps files; it never locks, so an index update can run
    at the same time (the searcher keeps the snapshot it opened)."""

    def __init__(self, lake: Lake, *, update: bool = True, threads: int | None = None) -> None:
        self.lake = lake
        if update:
            update_index(lake, threads=threads, wait=False)
        self.segments = open_segments(lake)

    def close(self) -> None:
        for seg in self.segments:
            seg.close()
        self.segments = []

    def __enter__(self) -> NoteSearcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _mask(self, seg: Segment, node: Node, cache: dict[str, np.ndarray]) -> np.ndarray:
        if isinstance(node, Term):
            if node.text not in cache:
                cache[node.text] = term_mask(seg, node.text)
            return cache[node.text]
        if isinstance(node, Or):
            out = self._mask(seg, node.items[0], cache).copy()
            for item in node.items[1:]:
                out |= self._mask(seg, item, cache)
            return out
        if isinstance(node, Not):  # only valid inside And (checked by the parser at top level)
            raise AssertionError("bare NOT")
        pos = [i for i in node.items if not isinstance(i, Not)]
        neg = [i.item for i in node.items if isinstance(i, Not)]
        if not pos:
            raise AssertionError("AND without a positive term")
        out = self._mask(seg, pos[0], cache).copy()
        for item in pos[1:]:
            if not out.any():
                return out
            out &= self._mask(seg, item, cache)
        for item in neg:
            if not out.any():
                return out
            out &= ~self._mask(seg, item, cache)
        return out

    def search(
        self, query: str, *, limit: int = 20, offset: int = 0, snippet_chars: int = 60
    ) -> SearchResult:
        t0 = time.perf_counter()
        tree = parse_query(query)
        need = max(0, int(offset)) + max(0, int(limit))
        total = 0
        dates, ids, segs, docs = [], [], [], []
        for k, seg in enumerate(self.segments):
            mask = self._mask(seg, tree, {})
            if seg.dead is not None:
                mask[seg.dead] = False
            total += int(np.count_nonzero(mask))
            if need:
                first = np.flatnonzero(mask)[:need]
                dates.append(seg.date[first].astype(np.int64))
                ids.append(seg.note_id[first])
                segs.append(np.full(len(first), k, dtype=np.int64))
                docs.append(first)
        hits: list[Hit] = []
        if need and dates:
            date, note_id = np.concatenate(dates), np.concatenate(ids)
            order = np.lexsort((note_id, -date))[int(offset) : need]
            seg_of, doc_of = np.concatenate(segs)[order], np.concatenate(docs)[order]
            terms = positive_terms(tree) or all_terms(tree)
            for k, d in zip(seg_of.tolist(), doc_of.tolist(), strict=True):
                hits.append(_hit(self.segments[k].row(d), terms, snippet_chars))
        return SearchResult(query, total, hits, (time.perf_counter() - t0) * 1000)


def _hit(row: dict[str, Any], terms: list[str], width: int) -> Hit:
    text = row["note_text"] or ""
    low = fold(text)
    spans = []
    for term in terms:
        start = low.find(term)
        while start >= 0:
            spans.append((start, start + len(term)))
            start = low.find(term, start + len(term))
    spans.sort()
    first = spans[0][0] if spans else 0
    lo = max(0, first - width // 2)
    hi = min(len(text), lo + width + (spans[0][1] - spans[0][0] if spans else 0))
    pieces, cursor, local = [], lo, []
    for s, e in spans:
        if s < cursor or e > hi:
            continue
        pieces.append(html.escape(text[cursor:s]))
        pieces.append(f"<mark>{html.escape(text[s:e])}</mark>")
        local.append((s, e))
        cursor = e
    pieces.append(html.escape(text[cursor:hi]))
    snippet = ("…" if lo > 0 else "") + "".join(pieces).replace("\n", " ") + ("…" if hi < len(text) else "")
    note_date = row["note_date"]
    return Hit(
        int(row["note_id"]),
        row["person_id"],
        note_date.isoformat() if note_date else None,
        row["note_title"],
        row["note_source_value"],
        snippet,
        local,
    )


def search_notes(lake: Lake, query: str, *, limit: int = 20, offset: int = 0) -> SearchResult:
    with NoteSearcher(lake) as searcher:
        return searcher.search(query, limit=limit, offset=offset)
