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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow.parquet as pq
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from medlake.cdm.lake import Lake, LakeTransaction
from medlake.cdm.vocab import ConceptRegistry
from medlake.errors import InputFormatError, InputNotFound
from medlake.ingest import connectors as _connectors  # noqa: F401 - registers every connector
from medlake.ingest.base import CONNECTORS, Connector, IngestContext, SourceFile
from medlake.ingest.derive import derive_observation_periods
from medlake.ingest.raw import capture, sha256_file

HEAD_BYTES = 65536
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
) -> IngestReport:
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
            batches: dict[str, list[SourceFile]] = {}
            for cls, src in plan:
                if getattr(cls, "batch", False):
                    batches.setdefault(cls.kind, []).append(src)
                    continue
                progress.update(task, description=src.rel[-50:])
                fr = _ingest_one(lake, registry, run_id, cls, [src], history, manifest)
                report.files.extend(fr)
                progress.advance(task, src.size)
                for f in fr:
                    if on_file:
                        on_file(f)
            for kind, srcs in batches.items():
                progress.update(task, description=f"{kind} ({len(srcs)} files)")
                fr = _ingest_one(lake, registry, run_id, CONNECTORS[kind], srcs, history, manifest)
                report.files.extend(fr)
                progress.advance(task, sum(s.size for s in srcs))
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


def _link_persons(lake: Lake) -> dict[str, object]:
    """New source patients arrived: link them (master patient index) and remap their person ids."""
    from medlake.mpi import apply, link

    result = link(lake)
    return {"link": result.as_dict(), "apply": apply(lake).as_dict()}


def _ingest_one(
    lake: Lake,
    registry: ConceptRegistry,
    run_id: str,
    cls: type[Connector],
    srcs: list[SourceFile],
    history: dict[str, list[dict[str, object]]],
    manifest: list[dict[str, object]],
) -> list[FileReport]:
    """Ingest one file (or one batch) in one transaction; a rejected file is quarantined whole."""
    reports: list[FileReport] = []
    contexts: list[IngestContext] = []
    rejected: set[str] = set()
    try:
        with lake.transaction(locked=True, refresh=False) as tx:
            for src in srcs:
                src.raw_path = capture(lake.raw_dir, src.path, src.sha256)
            connector = cls()
            setattr(connector, "registry", registry)  # noqa: B010 - optional capability for connectors
            if getattr(cls, "batch", False):

                def make_ctx(s: SourceFile, tx: LakeTransaction = tx) -> IngestContext:
                    c = IngestContext(lake, tx, run_id, s)
                    contexts.append(c)
                    return c

                connector.ingest_batch(make_ctx, srcs)  # type: ignore[attr-defined]
            else:
                ctx = IngestContext(lake, tx, run_id, srcs[0])
                contexts.append(ctx)
                try:
                    connector.ingest(ctx)
                except InputFormatError as exc:
                    # the whole file is unusable: quarantine it as one record, land nothing else from it
                    tx.rollback()
                    ctx = IngestContext(lake, tx, run_id, srcs[0])
                    contexts[:] = [ctx]
                    ctx.quarantine("<file>", exc.message, system=cls.system)
                    rejected.add(srcs[0].sha256)
            registry.flush(tx)
            pending: list[dict[str, object]] = []
            for ctx in contexts:
                ctx.finish()
                _write_manifest(tx, ctx, cls, manifest, pending)
    except Exception as exc:  # recorded per file and surfaced by the CLI's exit status
        for src in srcs:
            reports.append(
                FileReport(src.rel, cls.kind, "failed", src.sha256, error=f"{type(exc).__name__}: {exc}")
            )
        return reports
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


def _write_manifest(
    tx: LakeTransaction,
    ctx: IngestContext,
    cls: type[Connector],
    manifest: list[dict[str, object]],
    pending: list[dict[str, object]],
) -> None:
    s = ctx.stats
    row = {
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
    }
    # one manifest part per run, rewritten as files land: a crash loses only the manifest rows of
    # files whose parts a re-run will rewrite under the same names anyway
    pending.append(row)
    tx.write("_raw_file", f"run-{ctx.run_id}", manifest + pending)
