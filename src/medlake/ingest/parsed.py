"""What a worker process makes of a file, and how the runner takes it over (``medlake.ingest.parallel``).

A worker holds a file's rows as Arrow tables and records the local codes it met instead of numbering
them (``RecordingRegistry`` gives each new (vocabulary, code) the placeholder id ``-(k + 1)``);
``remap_concepts`` swaps in the runner's ``ConceptRegistry`` ids before the rows are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from medlake.cdm.vocab import ConceptRegistry
from medlake.ingest.base import FileStats


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
