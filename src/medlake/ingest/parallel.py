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
from pathlib import Path
from typing import Any, TypeVar

from medlake.cdm.lake import Lake
from medlake.ingest import connectors as _connectors  # noqa: F401 - registers every connector (in workers too)
from medlake.ingest.base import CONNECTORS, IngestContext, SourceFile, run_ingest
from medlake.ingest.parsed import ParsedFile, RecordingRegistry
from medlake.ingest.raw import capture

_WORKER_CHUNK = "worker"
T = TypeVar("T")


def parse_file(kind: str, data_dir: str, run_id: str, src: SourceFile) -> ParsedFile:
    """Run connector ``kind`` over one file in this (worker) process, holding everything it writes."""
    cls = CONNECTORS[kind]
    lake = Lake(Path(data_dir))
    capture(
        lake.raw_dir, src.path, src.sha256
    )  # the copy into the raw zone too (the runner's is then a no-op)
    registry = RecordingRegistry()
    connector = cls()
    setattr(connector, "registry", registry)  # noqa: B010 - the same optional capability the runner sets
    ctx, rejected = run_ingest(
        connector,
        lambda: IngestContext(lake, None, run_id, src, chunk=_WORKER_CHUNK),  # type: ignore[arg-type]
    )
    return ParsedFile(ctx.buffered, ctx.stats, ctx.pending_quarantine(), registry.codes, rejected)


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
        while src.sha256 not in self._futures and self._next < len(self._order):
            kind, ahead = self._order[self._next]  # asked ahead of the window (not the runner's way)
            self._next += 1
            self._futures[ahead.sha256] = self._executor.submit(parse_file, kind, *self._args, ahead)
        future = self._futures.pop(src.sha256)
        self._fill()
        return future.result()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
