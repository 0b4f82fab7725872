"""Answer note searches from the bigram index, verify phrases on the text, cut highlighted snippets.

A term of two characters is answered by its bigram alone; a single character by a range scan
of the grams it starts; a longer phrase by bigram postings whose positions line up (exact, never
a bigram false positive, and without reading note text). The page of hits is chosen on
``(note_id, note_date)`` only; text is read for those notes alone, to cut the snippets. AND / OR / NOT become
INTERSECT / UNION / EXCEPT over note ids. Values are bound as parameters.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb

from medlake.cdm.lake import Lake
from medlake.search.index import index_path, update_index
from medlake.search.query import Node, Not, Or, Term, all_terms, parse_query, positive_terms


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


def _paths(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


class NoteSearcher:
    """Holds one DuckDB connection with views over the index and the notes; reuse it for many queries."""

    def __init__(self, lake: Lake, *, update: bool = True, threads: int | None = None) -> None:
        self.lake = lake
        if update:
            update_index(lake, threads=threads)
        self.con = duckdb.connect(":memory:")
        if threads:
            self.con.execute(f"SET threads={int(threads)}")
        db = index_path(lake)
        parts = [str(p) for p in lake.parts("note")]
        if db.exists():
            self.con.execute("ATTACH " + _paths([str(db)])[1:-1] + " AS ix (READ_ONLY)")
            self.con.execute("CREATE VIEW idx AS SELECT gram, note_id, pos FROM ix.postings")
        else:
            self.con.execute(
                "CREATE VIEW idx AS SELECT CAST(NULL AS VARCHAR) AS gram, CAST(NULL AS BIGINT) AS note_id, CAST(NULL AS INTEGER) AS pos WHERE false"
            )
        if parts:
            self.con.execute(
                "CREATE VIEW notes AS SELECT CAST(note_id AS BIGINT) AS note_id, person_id, note_date, note_title, "
                f"note_source_value, note_text FROM read_parquet({_paths(parts)}, union_by_name = true)"
            )
        else:
            self.con.execute(
                "CREATE VIEW notes AS SELECT CAST(NULL AS BIGINT) AS note_id, CAST(NULL AS BIGINT) AS person_id, "
                "CAST(NULL AS DATE) AS note_date, CAST(NULL AS VARCHAR) AS note_title, "
                "CAST(NULL AS VARCHAR) AS note_source_value, CAST(NULL AS VARCHAR) AS note_text WHERE false"
            )

    def close(self) -> None:
        self.con.close()

    # -- compiling the boolean tree to SQL over note ids -----------------------------------------
    def _term_sql(self, text: str, params: list[Any]) -> str:
        if len(text) == 1:
            if ord(text) >= 0x10FFFF:
                params.append(text)
                return "SELECT DISTINCT note_id FROM idx WHERE gram >= ?"
            params.extend([text, chr(ord(text) + 1)])
            return "SELECT DISTINCT note_id FROM idx WHERE gram >= ? AND gram < ?"
        if len(text) == 2:
            params.append(text)
            return "SELECT DISTINCT note_id FROM idx WHERE gram = ?"
        # bigrams at offsets 0, 2, 4, ... and the last one cover the phrase; aligned positions make it exact
        offsets = sorted(set(range(0, len(text) - 1, 2)) | {len(text) - 2})
        pairs = [(text[o : o + 2], o) for o in offsets]
        values = ", ".join("(?, ?)" for _ in pairs)
        for g, o in pairs:
            params.extend([g, o])
        grams = sorted({g for g, _ in pairs})
        params.extend(grams)
        params.append(len(pairs))
        return (
            f"SELECT DISTINCT note_id FROM (SELECT i.note_id, i.pos - q.off AS s FROM idx i JOIN (VALUES {values}) q(gram, off) "
            f"ON i.gram = q.gram WHERE i.gram IN ({', '.join('?' for _ in grams)})) P GROUP BY note_id, s HAVING COUNT(*) = ?"
        )

    def _node_sql(self, node: Node, params: list[Any]) -> str:
        if isinstance(node, Term):
            return self._term_sql(node.text, params)
        if isinstance(node, Or):
            return " UNION ".join(f"({self._node_sql(i, params)})" for i in node.items)
        if isinstance(node, Not):  # only valid inside And (checked by the parser at top level)
            raise AssertionError("bare NOT")
        pos = [i for i in node.items if not isinstance(i, Not)]
        neg = [i.item for i in node.items if isinstance(i, Not)]
        if not pos:
            raise AssertionError("AND without a positive term")
        sql = " INTERSECT ".join(f"({self._node_sql(i, params)})" for i in pos)
        for n in neg:
            sql = f"({sql}) EXCEPT ({self._node_sql(n, params)})"
        return sql

    def search(
        self, query: str, *, limit: int = 20, offset: int = 0, snippet_chars: int = 60
    ) -> SearchResult:
        t0 = time.perf_counter()
        tree = parse_query(query)
        params: list[Any] = []
        ids_sql = self._node_sql(tree, params)
        ranked = self.con.execute(
            f"WITH h AS ({ids_sql}) SELECT n.note_id, COUNT(*) OVER () AS total FROM (SELECT note_id, note_date FROM notes) n "
            "SEMI JOIN h ON h.note_id = n.note_id ORDER BY n.note_date DESC NULLS LAST, n.note_id LIMIT ? OFFSET ?",
            [*params, int(limit), int(offset)],
        ).fetchall()
        page = [r[0] for r in ranked]
        if ranked:
            total = int(ranked[0][1])
        elif offset:
            total = int(
                self.con.execute(f"SELECT COUNT(DISTINCT note_id) FROM ({ids_sql}) h", params).fetchall()[0][
                    0
                ]
            )
        else:
            total = 0
        rows: list[tuple[Any, ...]] = []
        if page:
            qmarks = ", ".join("?" for _ in page)
            found = {
                r[0]: r
                for r in self.con.execute(
                    "SELECT note_id, person_id, note_date, note_title, note_source_value, note_text FROM notes "
                    f"WHERE note_id IN ({qmarks})",
                    page,
                ).fetchall()
            }
            rows = [found[i] for i in page if i in found]
        terms = positive_terms(tree) or all_terms(tree)
        hits = [self._hit(r, terms, snippet_chars) for r in rows]
        return SearchResult(query, total, hits, (time.perf_counter() - t0) * 1000)

    @staticmethod
    def _hit(row: tuple[Any, ...], terms: list[str], width: int) -> Hit:
        note_id, person_id, note_date, title, doc_type, text = row
        text = text or ""
        low = text.lower()
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
        snippet = (
            ("…" if lo > 0 else "") + "".join(pieces).replace("\n", " ") + ("…" if hi < len(text) else "")
        )
        return Hit(
            int(note_id),
            person_id,
            note_date.isoformat() if note_date else None,
            title,
            doc_type,
            snippet,
            local,
        )


def search_notes(lake: Lake, query: str, *, limit: int = 20, offset: int = 0) -> SearchResult:
    searcher = NoteSearcher(lake)
    try:
        return searcher.search(query, limit=limit, offset=offset)
    finally:
        searcher.close()
