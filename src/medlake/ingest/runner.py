"""``medlake ingest DIR``: walk a folder, capture, detect by content, parse, land, report.

For each file: hash it; a sha256 already in the manifest is unchanged and skipped (re-runs are
idempotent); otherwise copy it into the raw zone, let the connector that claims its content parse
it inside a lake transaction (its parts replace the previous version of the same source path),
and append it to the manifest. A file no connector claims is reported as unrecognised. A run
report is written to ``<data_dir>/runs/<run_id>.json``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from medlake.cdm.lake import Lake, LakeTransaction, part_name
from medlake.cdm.schema import TABLES
from medlake.cdm.vocab import ConceptRegistry
from medlake.errors import InputNotFound
from medlake.ingest import connectors as _connectors  # noqa: F401 - registers every connector
from medlake.ingest.base import CONNECTORS, Connector, IngestContext, SourceFile, run_ingest
from medlake.ingest.derive import derive_observation_periods
from medlake.ingest.parallel import ParsePool
from medlake.ingest.parsed import remap_concepts
from medlake.ingest.raw import capture, sha256_file
from medlake.ingest.row_tables import to_table
from medlake.settings import Settings

HEAD_BYTES = 65536
#: small files of a chunked kind share parts: at most this much input, or this many files, per chunk
CHUNK_BYTES = 128 * 1024 * 1024
CHUNK_FILES = 2000
#: below this much input to parse, files are parsed in the runner's process (no worker pool)
PARALLEL_MIN_BYTES = 16 * 1024 * 1024
IGNORED_NAMES = {".DS_Store", "Thumbs.db"}


@dataclass
class FileReport:
    path: str
    kind: str | None
    status: str  # new | changed | unchanged | unrecognised | rejected | failed
    sha256: str | None = None
    rows_read: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    written: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    error: str | None = None


@dataclass
class IngestReport:
    run_id: str
    root: str
    started_at: str
    finished_at: str = ""
    seconds: float = 0.0
    files: list[FileReport] = field(default_factory=list)
    linkage: dict[str, object] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {"files": len(self.files)}
        for f in self.files:
            out[f"files_{f.status}"] = out.get(f"files_{f.status}", 0) + 1
            out["rows_read"] = out.get("rows_read", 0) + f.rows_read
            out["rows_written"] = out.get("rows_written", 0) + f.rows_written
            out["rows_quarantined"] = out.get("rows_quarantined", 0) + f.rows_quarantined
        return out

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["totals"] = self.totals()
        return d


def detect(path: Path, head: bytes) -> type[Connector] | None:
    for cls in sorted(CONNECTORS.values(), key=lambda c: (c.priority, c.kind)):
        try:
            if cls.detect(path, head):
                return cls
        except Exception:  # a detector must never take the run down; it just does not claim the file
            continue
    return None


def _walk(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and name not in IGNORED_NAMES:
                out.append(Path(dirpath) / name)
    return out


def _manifest(lake: Lake) -> tuple[set[str], dict[str, list[dict[str, object]]]]:
    shas: set[str] = set()
    by_key: dict[str, list[dict[str, object]]] = {}
    for part in lake.parts("_raw_file"):
        for row in pq.read_table(part).to_pylist():
            shas.add(str(row["sha256"]))
            by_key.setdefault(str(row["source_key"]), []).append(row)
    return shas, by_key


def ingest_path(
    lake: Lake,
    root: Path,
    *,
    show_progress: bool = True,
    on_file: Callable[[FileReport], None] | None = None,
    link_persons: bool = True,
    workers: int | None = None,
) -> IngestReport:
    """Ingest every file under ``root``; ``workers`` parse processes (default: settings, 0 = all cores)."""
    root = Path(root)
    if not root.exists():
        raise InputNotFound(f"nothing to ingest at {root}")
    run_id = datetime.now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    report = IngestReport(run_id=run_id, root=str(root.resolve()), started_at=datetime.now().isoformat())
    t0 = time.perf_counter()
    base = root if root.is_dir() else root.parent
    files = _walk(root)
    lake.ensure()
    with lake.lock():
        known_shas, history = _manifest(lake)
        plan: list[tuple[type[Connector], SourceFile]] = []
        for path in files:
            with open(path, "rb") as fh:
                head = fh.read(HEAD_BYTES)
            cls = detect(path, head)
            rel = str(path.relative_to(base))
            if cls is None:
                report.files.append(FileReport(rel, None, "unrecognised"))
                continue
            sha = sha256_file(path)
            src = SourceFile(path=path, rel=rel, sha256=sha, size=path.stat().st_size, kind=cls.kind)
            if sha in known_shas:
                report.files.append(FileReport(rel, cls.kind, "unchanged", sha))
                continue
            src.version = len(history.get(src.source_key, [])) + 1
            known_shas.add(sha)  # the same bytes twice in one folder land once
            plan.append((cls, src))
        plan.sort(key=lambda item: (item[0].priority, item[1].rel))
        registry = ConceptRegistry(lake)
        manifest: list[dict[str, object]] = []
        total = sum(src.size for _, src in plan) or 1
        progress = Progress(
            TextColumn("[bold]ingest[/] {task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            disable=not show_progress,
            transient=False,
        )
        with progress:
            task = progress.add_task("", total=total)
            groups: dict[str, list[SourceFile]] = {}
            singles: list[tuple[type[Connector], SourceFile]] = []
            for cls, src in plan:
                if cls.chunked or getattr(cls, "batch", False):
                    groups.setdefault(cls.kind, []).append(src)
                else:
                    singles.append((cls, src))
            pool = _pool(lake, run_id, singles, groups, workers)
            try:
                _ingest_all(
                    lake,
                    registry,
                    run_id,
                    singles,
                    groups,
                    history,
                    manifest,
                    report,
                    progress,
                    task,
                    pool,
                    on_file,
                )
            finally:
                if pool is not None:
                    pool.close()
        lake.refresh_catalog()
    if link_persons and any(f.written.get("source_person") for f in report.files):
        report.linkage = _link_persons(lake)
    if any(f.status in ("new", "changed") for f in report.files):
        with lake.transaction() as tx:  # after linkage, so that periods are per linked person
            derive_observation_periods(lake, tx)
    report.finished_at = datetime.now().isoformat()
    report.seconds = round(time.perf_counter() - t0, 3)
    runs = lake.root / "runs"
    runs.mkdir(exist_ok=True)
    tmp = runs / f".{run_id}.json"
    tmp.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=1, default=str))
    os.replace(tmp, runs / f"{run_id}.json")
    return report


def _pool(
    lake: Lake,
    run_id: str,
    singles: list[tuple[type[Connector], SourceFile]],
    groups: dict[str, list[SourceFile]],
    workers: int | None,
) -> ParsePool | None:
    """A worker pool for the files whose connector may parse elsewhere, in the order they are written."""
    if workers is None:
        workers = Settings().workers
    workers = workers or os.cpu_count() or 1
    order = [(cls.kind, src) for cls, src in singles if cls.parallel]
    order += [(kind, src) for kind, srcs in groups.items() if CONNECTORS[kind].parallel for src in srcs]
    helped = [src for kind, srcs in groups.items() if CONNECTORS[kind].uses_pool for src in srcs]
    work = [src for _, src in order] + helped
    if workers < 2 or len(work) < 2 or sum(src.size for src in work) < PARALLEL_MIN_BYTES:
        return None  # a handful of small files: starting processes would cost more than it saves
    return ParsePool(lake.root, run_id, order, workers)


def _ingest_all(
    lake: Lake,
    registry: ConceptRegistry,
    run_id: str,
    singles: list[tuple[type[Connector], SourceFile]],
    groups: dict[str, list[SourceFile]],
    history: dict[str, list[dict[str, object]]],
    manifest: list[dict[str, object]],
    report: IngestReport,
    progress: Progress,
    task: TaskID,
    pool: ParsePool | None,
    on_file: Callable[[FileReport], None] | None,
) -> None:
    # one file per transaction for the singles; a chunk of files (one part per table) for the groups
    steps: list[tuple[type[Connector], list[SourceFile], str | None, str]] = [
        (cls, [src], None, src.rel[-50:]) for cls, src in singles
    ]
    for kind, srcs in groups.items():
        for k, chunk in enumerate(_chunks(srcs)):
            label = f"{kind} ({len(chunk)} of {len(srcs)} files)"
            steps.append((CONNECTORS[kind], chunk, f"{kind}:chunk-{run_id}-{k}", label))
    for cls, srcs, chunk_part, label in steps:
        progress.update(task, description=label)
        fr = _ingest_one(lake, registry, run_id, cls, srcs, history, manifest, chunk=chunk_part, pool=pool)
        report.files.extend(fr)
        progress.advance(task, sum(s.size for s in srcs))
        for f in fr:
            if on_file:
                on_file(f)


def _link_persons(lake: Lake) -> dict[str, object]:
    """New source patients arrived: link them (master patient index) and remap their person ids."""
    from medlake.mpi import apply, link

    result = link(lake)
    return {"link": result.as_dict(), "apply": apply(lake).as_dict()}


def _chunks(srcs: list[SourceFile]) -> Iterator[list[SourceFile]]:
    """Consecutive groups of files, each at most CHUNK_BYTES of input (one file may exceed it) or CHUNK_FILES."""
    chunk: list[SourceFile] = []
    size = 0
    for src in srcs:
        if chunk and (size + src.size > CHUNK_BYTES or len(chunk) >= CHUNK_FILES):
            yield chunk
            chunk, size = [], 0
        chunk.append(src)
        size += src.size
    if chunk:
        yield chunk


def _ingest_one(
    lake: Lake,
    registry: ConceptRegistry,
    run_id: str,
    cls: type[Connector],
    srcs: list[SourceFile],
    history: dict[str, list[dict[str, object]]],
    manifest: list[dict[str, object]],
    *,
    chunk: str | None = None,
    pool: ParsePool | None = None,
) -> list[FileReport]:
    """Ingest one file, one batch or one chunk of files in one transaction.

    A file whose content is unusable as a whole is quarantined as one record. In a chunk, a file
    that fails is reported failed and the chunk's other files still land.
    """
    reports: list[FileReport] = []
    contexts: list[IngestContext] = []
    rejected: set[str] = set()
    try:
        with lake.transaction(locked=True, refresh=False) as tx:
            for src in srcs:
                src.raw_path = capture(lake.raw_dir, src.path, src.sha256)
            connector = cls()
            setattr(connector, "registry", registry)  # noqa: B010 - optional capability for connectors
            if cls.uses_pool and pool is not None:
                setattr(connector, "pool", pool)  # noqa: B010 - optional capability for connectors
            if getattr(cls, "batch", False):

                def make_ctx(s: SourceFile, tx: LakeTransaction = tx) -> IngestContext:
                    c = IngestContext(lake, tx, run_id, s, chunk=chunk)
                    contexts.append(c)
                    return c

                connector.ingest_batch(make_ctx, srcs)  # type: ignore[attr-defined]
            elif pool is not None and all(src.sha256 in pool.shas for src in srcs):
                for src in srcs:
                    ctx = IngestContext(lake, tx, run_id, src, chunk=chunk)
                    try:
                        parsed = pool.take(src)
                    except Exception as exc:  # the worker's error, for this file only
                        if chunk is None:
                            raise
                        reports.append(_failed(src, cls, exc))
                        continue
                    ctx.adopt(remap_concepts(parsed, registry), parsed.stats, parsed.quarantine)
                    if parsed.rejected:
                        rejected.add(src.sha256)
                    contexts.append(ctx)
            elif chunk is not None:
                for src in srcs:
                    try:
                        ctx, bad = run_ingest(
                            connector, partial(IngestContext, lake, tx, run_id, src, chunk=chunk)
                        )
                    except Exception as exc:  # this file only; its rows were held back, none are staged
                        reports.append(_failed(src, cls, exc))
                        continue
                    if bad:
                        rejected.add(src.sha256)
                    contexts.append(ctx)
            else:
                ctx, bad = run_ingest(connector, lambda: IngestContext(lake, tx, run_id, srcs[0]))
                if bad:
                    tx.rollback()  # what the file staged before it was found unusable
                    rejected.add(srcs[0].sha256)
                contexts.append(ctx)
            registry.flush(tx)
            pending: list[dict[str, object]] = []
            for ctx in contexts:
                ctx.finish()
                pending.append(_manifest_row(ctx, cls))
            if chunk is not None:
                _drop_earlier_versions(lake, tx, contexts, history)
                _write_chunk(tx, chunk, contexts)
            tx.write("_raw_file", f"run-{run_id}", manifest + pending)
    except Exception as exc:  # recorded per file and surfaced by the CLI's exit status
        return reports + [
            _failed(src, cls, exc) for src in srcs if src.sha256 not in {r.sha256 for r in reports}
        ]
    for row in pending:
        manifest.append(row)
        history.setdefault(str(row["source_key"]), []).append(row)
    for ctx in contexts:
        s = ctx.stats
        status = "new" if ctx.src.version == 1 else "changed"
        if ctx.src.sha256 in rejected:
            status = "rejected"
        reports.append(
            FileReport(
                ctx.src.rel,
                cls.kind,
                status,
                ctx.src.sha256,
                s.rows_read,
                s.rows_written,
                s.rows_quarantined,
                dict(s.written),
                dict(s.skipped),
                {k: dict(v) for k, v in s.by_type.items()},
            )
        )
    return reports


def _failed(src: SourceFile, cls: type[Connector], exc: Exception) -> FileReport:
    return FileReport(src.rel, cls.kind, "failed", src.sha256, error=f"{type(exc).__name__}: {exc}")


def _write_chunk(tx: LakeTransaction, chunk: str, contexts: list[IngestContext]) -> None:
    """Stage one part per table holding the rows of every file of the chunk."""
    tables: dict[str, list[pa.Table]] = {}
    rows: dict[str, list[dict[str, object]]] = {}
    for ctx in contexts:
        for name, parts in ctx.buffered.items():
            tables.setdefault(name, []).extend(parts)
        for name, dicts in ctx.buffered_rows.items():
            rows.setdefault(name, []).extend(dicts)
        ctx.buffered, ctx.buffered_rows = {}, {}
    for name, dicts in rows.items():
        tables.setdefault(name, []).append(to_table(name, dicts))
    for name, parts in tables.items():
        tx.write(name, chunk, pa.concat_tables(parts))


def _drop_earlier_versions(
    lake: Lake,
    tx: LakeTransaction,
    contexts: list[IngestContext],
    history: dict[str, list[dict[str, object]]],
) -> None:
    """A changed file replaces its earlier version: remove that version's rows from the parts holding them.

    A part named after the file (written before chunking) holds that file only and is deleted; a
    chunk part is rewritten without the rows whose ``src_file`` is an earlier version's sha256.
    """
    by_part: dict[str, set[str]] = {}
    for ctx in contexts:
        for row in history.get(ctx.src.source_key, []):
            by_part.setdefault(str(row.get("part") or row["source_key"]), set()).add(str(row["sha256"]))
    own_keys = {ctx.src.source_key for ctx in contexts}
    for part, shas in by_part.items():
        for name, table in TABLES.items():
            path = lake.table_dir(name) / f"{part_name(part)}.parquet"
            if not path.exists():
                continue
            if part in own_keys:
                tx.delete(name, part)
            elif "src_file" in {c for c, _ in table.columns}:
                stored = pq.read_table(path)
                keep = stored.filter(
                    pc.invert(pc.is_in(stored["src_file"], value_set=pa.array(sorted(shas))))
                )
                if keep.num_rows != stored.num_rows:
                    tx.write(name, part, keep)


def _manifest_row(ctx: IngestContext, cls: type[Connector]) -> dict[str, object]:
    """The manifest row of one captured file version (``part``: where its rows are)."""
    s = ctx.stats
    # one manifest part per run, rewritten as files land: a crash loses only the manifest rows of
    # files whose parts a re-run will rewrite under the same names anyway
    return {
        "sha256": ctx.src.sha256,
        "source_path": ctx.src.rel,
        "source_key": ctx.src.source_key,
        "source_kind": cls.kind,
        "size_bytes": ctx.src.size,
        "version": ctx.src.version,
        "captured_at": datetime.now(),
        "rows_read": s.rows_read,
        "rows_written": s.rows_written,
        "rows_quarantined": s.rows_quarantined,
        "run_id": ctx.run_id,
        "part": ctx.part,
    }
