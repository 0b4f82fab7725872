"""The connector contract: a small base class plus a name → class registry.

A connector claims a file by looking at its content (``detect``), then turns it into lake rows
through the ``IngestContext`` it is handed: ``ctx.write(table, rows)`` stages one part per table
for the file (replacing that file's earlier version), ``ctx.quarantine(...)`` records a bad record
with its reason. Everything a connector stages is swapped in at once when the file is done.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from medlake.cdm.ids import stable_id
from medlake.cdm.lake import Lake, LakeTransaction, conform
from medlake.errors import InputFormatError


@dataclass
class SourceFile:
    """One captured version of one input file."""

    path: Path
    rel: str
    sha256: str
    size: int
    kind: str
    version: int = 1
    raw_path: Path | None = None

    @property
    def source_key(self) -> str:
        return f"{self.kind}:{self.rel}"


@dataclass
class FileStats:
    rows_read: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    #: per source record type (FHIR resource type, HL7 message type): counts of read, mapped,
    #: skipped and quarantined records, so that read = mapped + skipped + quarantined per type
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n

    def count(self, record_type: str, outcome: str, n: int = 1) -> None:
        """Add ``n`` to ``by_type[record_type][outcome]`` (outcome: read, mapped, skipped, quarantined)."""
        counts = self.by_type.setdefault(record_type, {})
        counts[outcome] = counts.get(outcome, 0) + n


class IngestContext:
    """What a connector may touch while ingesting one file (or one batch of files)."""

    def __init__(
        self, lake: Lake, tx: LakeTransaction, run_id: str, src: SourceFile, *, chunk: str | None = None
    ) -> None:
        self.lake = lake
        self.tx = tx
        self.run_id = run_id
        self.src = src
        self.stats = FileStats()
        self._quarantine: list[dict[str, Any]] = []
        self._written_tables: set[str] = set()
        #: set when the file is one of a chunk of small files that share one part per table: its rows
        #: are held here and written with the chunk's (each row keeps its file in ``src_file``)
        self.chunk = chunk
        self.buffered: dict[str, list[pa.Table]] = {}
        self.buffered_rows: dict[str, list[dict[str, Any]]] = {}

    @property
    def part(self) -> str:
        return self.chunk or self.src.source_key

    def write(self, table: str, data: Any, *, part: str | None = None) -> int:
        if part is None and self.chunk is not None:
            if isinstance(data, list):  # row dicts: converted once for the whole chunk (runner._write_chunk)
                self.buffered_rows.setdefault(table, []).extend(data)
                n = len(data)
            else:
                conformed = conform(table, data)
                if conformed.num_rows:
                    self.buffered.setdefault(table, []).append(conformed)
                n = conformed.num_rows
        else:
            n = self.tx.write(table, part or self.part, data)
        self._written_tables.add(table)
        self.stats.rows_written += n if not table.startswith("_") and table != "source_person" else 0
        self.stats.written[table] = self.stats.written.get(table, 0) + n
        return n

    def quarantine(self, record: str, reason: str, raw: str = "", system: str = "") -> None:
        self._quarantine.append(
            {
                "src_system": system,
                "src_file": self.src.sha256,
                "source_path": self.src.rel,
                "src_record": record,
                "reason": reason,
                "raw": raw[:2000],
                "run_id": self.run_id,
                "quarantined_at": datetime.now(),
            }
        )
        self.stats.rows_quarantined += 1

    def pending_quarantine(self) -> list[dict[str, Any]]:
        return list(self._quarantine)

    def adopt(
        self, tables: dict[str, list[pa.Table]], stats: FileStats, quarantine: list[dict[str, Any]]
    ) -> None:
        """Take over what a worker process parsed from this file (``medlake.ingest.parallel``)."""
        self.stats = stats
        self._quarantine = list(quarantine)
        for name, parts in tables.items():
            if not parts:
                continue
            if self.chunk is not None:
                self.buffered.setdefault(name, []).extend(parts)
            else:
                self.tx.write(name, self.part, pa.concat_tables(parts) if len(parts) > 1 else parts[0])
            self._written_tables.add(name)

    def finish(self) -> None:
        """Stage the quarantine part (an empty list still replaces the previous version's)."""
        if self.chunk is not None:
            if self._quarantine:
                self.buffered.setdefault("_quarantine", []).append(
                    conform("_quarantine", pa.Table.from_pylist(self._quarantine))
                )
            return
        self.tx.write(
            "_quarantine", self.part, pa.Table.from_pylist(self._quarantine) if self._quarantine else []
        )


class Connector(ABC):
    """One kind of source file. Subclasses set ``kind`` and ``system`` and register themselves."""

    kind: ClassVar[str]
    system: ClassVar[str]
    #: lower runs first within one ingest (e.g. registries before events)
    priority: ClassVar[int] = 100
    #: many small files of this kind share one part per table per chunk of files (see the runner)
    chunked: ClassVar[bool] = False
    #: ``ingest`` only reads its own file (and the registry): it may run in a worker process
    parallel: ClassVar[bool] = False
    #: the connector hands work of its own to the runner's worker pool (``connector.pool``)
    uses_pool: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def detect(cls, path: Path, head: bytes) -> bool:
        """True if this file (first 64 KiB in ``head``) is this connector's kind."""

    @abstractmethod
    def ingest(self, ctx: IngestContext) -> None:
        """Parse ``ctx.src`` and write its rows through ``ctx``."""


CONNECTORS: dict[str, type[Connector]] = {}


def run_ingest(connector: Connector, new_ctx: Callable[[], IngestContext]) -> tuple[IngestContext, bool]:
    """``connector.ingest`` on a fresh context; True when the file was rejected as a whole.

    A file whose content is unusable as a whole (``InputFormatError``) lands nothing: the context
    returned is a new one holding only its one quarantine record (the caller drops what the first
    one staged).
    """
    ctx = new_ctx()
    try:
        connector.ingest(ctx)
    except InputFormatError as exc:
        ctx = new_ctx()
        ctx.quarantine("<file>", exc.message, system=connector.system)
        return ctx, True
    return ctx, False


def register(cls: type[Connector]) -> type[Connector]:
    if cls.kind in CONNECTORS and CONNECTORS[cls.kind] is not cls:
        raise ValueError(f"two connectors claim kind {cls.kind!r}")
    CONNECTORS[cls.kind] = cls
    return cls


def person_id_for(system: str, local_id: str) -> int:
    """The person id a source-system patient gets before (or without) master-patient-index linkage."""
    return stable_id("person", f"{system}|{local_id}")


PersonResolver = Callable[[str, str], int]
