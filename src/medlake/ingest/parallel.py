"""Parse source files on every core while the runner's own process stages and writes.

Connectors that only read their file (``parallel = True``: the HIS exports, EMR notes, HL7 feeds)
run in worker processes. A worker holds the file's rows as Arrow tables instead of staging them,
and records the local codes it met instead of numbering them: the lake's ``ConceptRegistry`` lives
in the runner, so a worker gives each new (vocabulary, code) a placeholder id ``-(k + 1)`` and the
runner swaps in the registry's ids (``remap_concepts``) before the rows are written. Everything a
file produces is still written by the runner, in the plan's order, in the same transactions as a
sequential run: the lake ends up the same, only sooner.

Workers are started with ``spawn`` (DuckDB and Arrow keep threads that ``fork`` would copy
half-way) and at most ``window`` files are parsed ahead of the writer, which bounds memory.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from medlake.cdm.lake import Lake
from medlake.cdm.vocab import ConceptRegistry
from medlake.errors import InputFormatError
from medlake.ingest import connectors as _connectors  # noqa: F401 - registers every connector (in workers too)
from medlake.ingest.base import CONNECTORS, FileStats, IngestContext, SourceFile

_WORKER_CHUNK = "worker"
T = TypeVar("T")


@dataclass
class ParsedFile:
    """What a worker made of one file: its rows, stats and quarantine, and the codes it met."""

    tables: dict[str, list[pa.Table]]
    stats: FileStats
    quarantine: list[dict[str, Any]]
    codes: list[tuple[str, str, str, str, str]] = field(
        default_factory=list
    )  # vocab, code, name, domain, class
    rejected: bool = False


class RecordingRegistry:
    """Stands in for ``ConceptRegistry`` in a worker: placeholder ids, remembered for the runner."""

    def __init__(self) -> None:
        self.codes: list[tuple[str, str, str, str, str]] = []
        self._ids: dict[tuple[str, str], int] = {}

    def lookup(self, vocabulary: str, code: str) -> int | None:
        return None

    def ensure(
        self, vocabulary: str, items: dict[str, str], *, domain: str, concept_class: str
    ) -> dict[str, int]:
        out: dict[str, int] = {}
        for code, name in items.items():
            key = (vocabulary, code)
            if key not in self._ids:
                self.codes.append((vocabulary, code, name, domain, concept_class))
                self._ids[key] = -len(self.codes)
            out[code] = self._ids[key]
        return out


def parse_file(kind: str, data_dir: str, run_id: str, src: SourceFile) -> ParsedFile:
    """Run connector ``kind`` over one file in this (worker) process, holding everything it writes."""
    cls = CONNECTORS[kind]
    lake = Lake(Path(data_dir))
    registry = RecordingRegistry()
    connector = cls()
    setattr(connector, "registry", registry)  # noqa: B010 - the same optional capability the runner sets
    ctx = IngestContext(lake, None, run_id, src, chunk=_WORKER_CHUNK)  # type: ignore[arg-type]
    rejected = False
    try:
        connector.ingest(ctx)
    except InputFormatError as exc:  # the whole file is unusable: one quarantine record, nothing else
        ctx = IngestContext(lake, None, run_id, src, chunk=_WORKER_CHUNK)  # type: ignore[arg-type]
        ctx.quarantine("<file>", exc.message, system=cls.system)
        rejected = True
    return ParsedFile(ctx.buffered, ctx.stats, ctx.pending_quarantine(), registry.codes, rejected)


def remap_concepts(parsed: ParsedFile, registry: ConceptRegistry) -> dict[str, list[pa.Table]]:
    """The parsed tables with placeholder concept ids replaced by the registry's (registering new codes)."""
    if not parsed.codes:
        return parsed.tables
    grouped: dict[tuple[str, str, str], dict[str, str]] = {}
    for vocab, code, name, domain, cls in parsed.codes:
        grouped.setdefault((vocab, domain, cls), {})[code] = name
    real: dict[tuple[str, str], int] = {}
    for (vocab, domain, cls), items in grouped.items():
        for code, cid in registry.ensure(vocab, items, domain=domain, concept_class=cls).items():
            real[(vocab, code)] = cid
    lookup = pa.array([real[(vocab, code)] for vocab, code, *_ in parsed.codes], pa.int64())
    out: dict[str, list[pa.Table]] = {}
    for name, tables in parsed.tables.items():
        out[name] = [_remap_table(t, lookup) for t in tables]
    return out


def _remap_table(table: pa.Table, lookup: pa.Array) -> pa.Table:
    for i, col_name in enumerate(table.column_names):
        col = table.column(i)
        if not col_name.endswith("concept_id") or not pa.types.is_integer(col.type) or len(col) == 0:
            continue
        low = pc.min(col).as_py()
        if low is None or low >= 0:
            continue
        negative = pc.less(col, 0)
        index = pc.if_else(negative, pc.subtract(pc.negate(col), 1), 0)
        swapped = pc.if_else(negative, pc.take(lookup, index).cast(col.type), col)
        table = table.set_column(i, col_name, swapped)
    return table


class ParsePool:
    """Files parsed ahead in worker processes, handed out in the order given."""

    def __init__(
        self, data_dir: Path, run_id: str, order: Sequence[tuple[str, SourceFile]], workers: int
    ) -> None:
        self._executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        )
        self._args = (str(data_dir), run_id)
        self._order = list(order)
        self._next = 0
        self._window = 2 * workers
        self._futures: dict[str, Future[ParsedFile]] = {}
        #: the files this pool parses (by sha256)
        self.shas = {src.sha256 for _, src in self._order}
        self._fill()

    def _fill(self) -> None:
        while self._next < len(self._order) and len(self._futures) < self._window:
            kind, src = self._order[self._next]
            self._next += 1
            self._futures[src.sha256] = self._executor.submit(parse_file, kind, *self._args, src)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Any other picklable work for the workers (e.g. validating FHIR files ahead of mapping)."""
        return self._executor.submit(fn, *args)

    def take(self, src: SourceFile) -> ParsedFile:
        """The parsed file (raises what the worker raised); keeps the workers busy with the next ones."""
        future = self._futures.pop(src.sha256, None)
        if future is None:  # asked out of order (not the runner's way): parse it now
            kind = next(k for k, s in self._order if s.sha256 == src.sha256)
            future = self._executor.submit(parse_file, kind, *self._args, src)
        self._fill()
        return future.result()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
