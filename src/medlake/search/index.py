"""A character-bigram inverted index over note text, one Parquet file per lake part of ``note``.

Chinese has no word boundaries, so the index keys are overlapping character pairs (text
lower-cased, a trailing space appended so the last character also forms a pair). Each index
file holds ``(gram, note_id, pos)`` postings sorted by gram, so a lookup reads only the row
groups of the queried grams, and positions answer phrases exactly without reading the text. ``update_index`` keeps the index in step with incremental ingestion:
it (re)builds the files of new or changed note parts and drops those of deleted parts; the
manifest records each part's size and mtime.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from medlake.cdm.lake import Lake

ROW_GROUP = 122_880


@dataclass
class IndexUpdate:
    built: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0


def index_dir(lake: Lake) -> Path:
    return lake.root / "search" / "note_bigram"


def _manifest_path(lake: Lake) -> Path:
    return index_dir(lake) / "manifest.json"


def _stamp(p: Path) -> list[int]:
    st = p.stat()
    return [st.st_size, st.st_mtime_ns]


def _sql_path(p: Path) -> str:
    return "'" + str(p).replace("'", "''") + "'"


def build_part(con: duckdb.DuckDBPyConnection, part: Path, out: Path) -> None:
    """Write the bigram index of one note part (aside, then swapped into place)."""
    tmp = out.with_name(f".tmp-{os.getpid()}-{out.name}")
    con.execute(
        f"""COPY (
            SELECT substr(t, CAST(i AS INTEGER), 2) AS gram, note_id, CAST(i AS INTEGER) AS pos FROM (
                SELECT note_id, t, UNNEST(range(1, length(t))) AS i FROM (
                    SELECT CAST(note_id AS BIGINT) AS note_id, lower(note_text) || ' ' AS t
                    FROM read_parquet({_sql_path(part)}) WHERE note_text IS NOT NULL AND note_id IS NOT NULL))
            ORDER BY gram, note_id, pos
        ) TO {_sql_path(tmp)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP})"""
    )
    os.replace(tmp, out)


def update_index(lake: Lake, *, threads: int | None = None) -> IndexUpdate:
    """Bring the index in line with the lake's note parts."""
    folder = index_dir(lake)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = _manifest_path(lake)
    manifest: dict[str, list[int]] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    parts = {p.stem: p for p in lake.parts("note")}
    result = IndexUpdate()
    con = duckdb.connect(":memory:")
    if threads:
        con.execute(f"SET threads={int(threads)}")
    try:
        for stem, part in sorted(parts.items()):
            stamp = _stamp(part)
            out = folder / f"{stem}.parquet"
            if manifest.get(stem) == stamp and out.exists():
                result.unchanged += 1
                continue
            build_part(con, part, out)
            manifest[stem] = stamp
            result.built.append(stem)
    finally:
        con.close()
    for stem in sorted(set(manifest) - set(parts)):
        (folder / f"{stem}.parquet").unlink(missing_ok=True)
        del manifest[stem]
        result.removed.append(stem)
    tmp = manifest_path.with_name(".manifest.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, manifest_path)
    return result


def index_files(lake: Lake) -> list[Path]:
    folder = index_dir(lake)
    return (
        sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(".")) if folder.exists() else []
    )
