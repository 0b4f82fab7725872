"""A character-bigram inverted index over note text, maintained per lake part of ``note``.

Chinese has no word boundaries, so the index keys are overlapping character pairs (text
lower-cased, a trailing space appended so the last character also forms a pair). Postings
``(part, gram, note_id, pos)`` live in one DuckDB database, ``search/note_index.duckdb``; each
note part's postings are inserted sorted by gram, so DuckDB's zone maps let a lookup read only
the blocks of the queried grams, and positions answer phrases exactly without reading text.
``update_index`` keeps the index in step with incremental ingestion: it re-indexes note parts
that are new or changed (size or mtime) and drops the postings of parts that are gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from medlake.cdm.lake import Lake
from medlake.errors import LakeLockedError


@dataclass
class IndexUpdate:
    built: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0


def index_path(lake: Lake) -> Path:
    return lake.root / "search" / "note_index.duckdb"


def _sql_path(p: Path) -> str:
    return "'" + str(p).replace("'", "''") + "'"


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS postings (part VARCHAR, gram VARCHAR, note_id BIGINT, pos INTEGER)",
    "CREATE TABLE IF NOT EXISTS parts (part VARCHAR PRIMARY KEY, size BIGINT, mtime_ns BIGINT)",
)


def _index_part(con: duckdb.DuckDBPyConnection, stem: str, part: Path) -> None:
    con.execute("DELETE FROM postings WHERE part = ?", [stem])
    con.execute(
        f"""INSERT INTO postings
            SELECT ?, substr(t, CAST(i AS INTEGER), 2) AS gram, note_id, CAST(i AS INTEGER) AS pos FROM (
                SELECT note_id, t, UNNEST(range(1, length(t))) AS i FROM (
                    SELECT CAST(note_id AS BIGINT) AS note_id, lower(note_text) || ' ' AS t
                    FROM read_parquet({_sql_path(part)}) WHERE note_text IS NOT NULL AND note_id IS NOT NULL))
            ORDER BY gram, note_id, pos""",
        [stem],
    )


def update_index(lake: Lake, *, threads: int | None = None) -> IndexUpdate:
    """Bring the index in line with the lake's note parts (one transaction per part)."""
    path = index_path(lake)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        raise LakeLockedError(f"the note index {path} is in use by another process") from exc
    result = IndexUpdate()
    try:
        if threads:
            con.execute(f"SET threads={int(threads)}")
        con.execute("SET preserve_insertion_order = true")
        for stmt in _SCHEMA:
            con.execute(stmt)
        known = {r[0]: (r[1], r[2]) for r in con.execute("SELECT part, size, mtime_ns FROM parts").fetchall()}
        parts = {p.stem: p for p in lake.parts("note")}
        for stem, part in sorted(parts.items()):
            st = part.stat()
            stamp = (st.st_size, st.st_mtime_ns)
            if known.get(stem) == stamp:
                result.unchanged += 1
                continue
            con.execute("BEGIN TRANSACTION")
            _index_part(con, stem, part)
            con.execute("INSERT OR REPLACE INTO parts VALUES (?, ?, ?)", [stem, *stamp])
            con.execute("COMMIT")
            result.built.append(stem)
        for stem in sorted(set(known) - set(parts)):
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM postings WHERE part = ?", [stem])
            con.execute("DELETE FROM parts WHERE part = ?", [stem])
            con.execute("COMMIT")
            result.removed.append(stem)
        if result.built or result.removed:
            con.execute("CHECKPOINT")
    finally:
        con.close()
    return result
