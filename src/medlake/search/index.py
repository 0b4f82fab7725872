"""The note index: immutable segments per lake part of ``note`` and an atomically swapped manifest.

Layout under ``<data dir>/search/``: ``segments/<part>.<token>/`` (see :mod:`medlake.search.segment`;
a part of more than ``SEGMENT_ROWS`` notes gets several), ``segments/<token>.dead.npy`` (docs of a
segment shadowed by a newer copy of the same ``note_id`` in another part), and ``manifest.json``,
which names the live segments with the size and mtime of the part each was built from.

``update_index`` keeps the index in step with incremental ingestion: it builds segments for parts
that are new or changed, drops those of parts that are gone, recomputes the shadowed docs, writes
a new manifest aside and renames it over the old one, then deletes unreferenced files. Readers
only ever read the manifest and open segments read-only (memory maps), so a search never blocks
an update and an update never blocks a search; a reader that loses a race with the deletion of an
old segment simply re-reads the manifest (``open_segments``). Updaters take ``.update.lock``
(``flock``) so two of them never interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from medlake.cdm.lake import Lake
from medlake.search.segment import FORMAT, Segment, write_segment

SEGMENT_ROWS = 262_144
_READ_COLUMNS = ["note_id", "person_id", "note_date", "note_title", "note_source_value", "note_text"]


@dataclass
class IndexUpdate:
    built: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    busy: bool = False  # another process was updating and ``wait=False`` was asked


def index_dir(lake: Lake) -> Path:
    return lake.root / "search"


def index_path(lake: Lake) -> Path:
    """The manifest: the index's single entry point."""
    return index_dir(lake) / "manifest.json"


def read_manifest(lake: Lake) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(index_path(lake).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"format": FORMAT, "generation": 0, "parts": {}}
    if data.get("format") != FORMAT:
        return {"format": FORMAT, "generation": 0, "parts": {}}  # rebuilt from scratch on update
    return data


@contextlib.contextmanager
def _update_lock(lake: Lake, *, wait: bool) -> Iterator[bool]:
    d = index_dir(lake)
    d.mkdir(parents=True, exist_ok=True)
    with open(d / ".update.lock", "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _build_part(seg_root: Path, stem: str, part: Path) -> tuple[list[str], tuple[int, int]]:
    """Segments for one part; the stamp is taken from the open file, so it matches what was read."""
    names: list[str] = []
    with open(part, "rb") as fh:
        st = os.fstat(fh.fileno())
        pf = pq.ParquetFile(fh)
        cols = [c for c in _READ_COLUMNS if c in pf.schema_arrow.names]
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in pf.iter_batches(batch_size=SEGMENT_ROWS, columns=cols):
            pending.append(batch)
            rows += batch.num_rows
            if rows >= SEGMENT_ROWS:
                names.append(_write(seg_root, stem, pending))
                pending, rows = [], 0
        if rows:
            names.append(_write(seg_root, stem, pending))
    return names, (st.st_size, st.st_mtime_ns)


def _write(seg_root: Path, stem: str, batches: list[pa.RecordBatch]) -> str:
    name = f"{stem}.{secrets.token_hex(6)}"
    write_segment(seg_root / name, pa.Table.from_batches(batches), part=stem)
    return name


def _shadowed(seg_root: Path, order: list[str]) -> dict[str, np.ndarray]:
    """Docs to hide: a ``note_id`` seen in a later segment (newer part) hides earlier copies, and
    inside one segment the first copy in result order stays."""
    ids = [np.load(seg_root / name / "note_id.npy", mmap_mode="r") for name in order]
    if not ids:
        return {}
    note_id = np.concatenate(ids)
    rank = np.repeat(np.arange(len(ids), dtype=np.int64), [len(a) for a in ids])
    doc = np.concatenate([np.arange(len(a), dtype=np.int64) for a in ids])
    by = np.lexsort((doc, -rank, note_id))  # per note id: newest segment first, then result order
    repeat = np.zeros(len(by), dtype=bool)
    repeat[1:] = note_id[by[1:]] == note_id[by[:-1]]
    gone = by[repeat]
    dead: dict[str, np.ndarray] = {}
    for k in np.unique(rank[gone]).tolist():
        dead[order[k]] = np.sort(doc[gone[rank[gone] == k]])
    return dead


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def update_index(lake: Lake, *, threads: int | None = None, wait: bool = True) -> IndexUpdate:
    """Bring the index in line with the lake's note parts.

    ``threads`` is accepted for compatibility (building is single-threaded numpy). With
    ``wait=False`` an update already running elsewhere is not waited for (``busy`` is set).
    """
    del threads
    result = IndexUpdate()
    seg_root = index_dir(lake) / "segments"
    with _update_lock(lake, wait=wait) as locked:
        if not locked:
            result.busy = True
            return result
        seg_root.mkdir(parents=True, exist_ok=True)
        manifest = read_manifest(lake)
        known: dict[str, dict[str, Any]] = manifest["parts"]
        parts = {p.stem: p for p in lake.parts("note")}
        new_parts: dict[str, dict[str, Any]] = {}
        for stem, part in sorted(parts.items()):
            entry = known.get(stem)
            try:
                st = part.stat()
                if entry and (entry["size"], entry["mtime_ns"]) == (st.st_size, st.st_mtime_ns):
                    new_parts[stem] = entry
                    result.unchanged += 1
                    continue
                names, (size, mtime_ns) = _build_part(seg_root, stem, part)
            except FileNotFoundError:
                continue  # the part was deleted while we looked
            new_parts[stem] = {"size": size, "mtime_ns": mtime_ns, "segments": names}
            result.built.append(stem)
        result.removed = sorted(set(known) - set(new_parts))
        if result.built or result.removed or not index_path(lake).exists():
            _commit(lake, manifest, new_parts)
    return result


def _commit(lake: Lake, old: dict[str, Any], parts: dict[str, dict[str, Any]]) -> None:
    root = index_dir(lake)
    seg_root = root / "segments"
    order = [
        name
        for stem, _ in sorted(parts.items(), key=lambda kv: (kv[1]["mtime_ns"], kv[0]))
        for name in parts[stem]["segments"]
    ]
    generation = int(old.get("generation", 0)) + 1
    dead_files: dict[str, str] = {}
    for name, docs in _shadowed(seg_root, order).items():
        fname = f"{name}.g{generation}.dead.npy"
        np.save(seg_root / fname, docs)
        dead_files[name] = fname
    for entry in parts.values():
        entry["dead"] = {n: dead_files[n] for n in entry["segments"] if n in dead_files}
    manifest = {"format": FORMAT, "generation": generation, "order": order, "parts": parts}
    tmp = root / f".manifest.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh)
        fh.flush()
        os.fsync(fh.fileno())
    _fsync_dir(seg_root)
    os.replace(tmp, index_path(lake))
    _fsync_dir(root)
    live = set(order) | set(dead_files.values())
    for path in seg_root.iterdir():
        if path.name not in live:  # readers holding them keep their memory maps
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    legacy = root / "note_index.duckdb"  # the former single-file index
    for stale in (legacy, legacy.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)


def open_segments(lake: Lake, *, attempts: int = 5) -> list[Segment]:
    """Open the segments the manifest names (read-only); retry if an update swapped them meanwhile."""
    seg_root = index_dir(lake) / "segments"
    for attempt in range(attempts):
        manifest = read_manifest(lake)
        dead_of: dict[str, str] = {}
        for entry in manifest["parts"].values():
            dead_of.update(entry.get("dead", {}))
        out: list[Segment] = []
        try:
            for name in manifest.get("order", []):
                dead = np.load(seg_root / dead_of[name]) if name in dead_of else None
                out.append(Segment.open(seg_root / name, dead))
            return out
        except FileNotFoundError:
            for seg in out:
                seg.close()
            if attempt == attempts - 1:
                raise
    return []
