"""An in-memory slice of the lake holding only the rows the published models can ask for.

Decision support looks up one patient at a time. Rather than scan the Parquet parts on every
request, the engine's DuckDB connection keeps, per lake table, only the rows matching some
published feature or index event (by the same bound-parameter code predicates the catalogue uses),
plus the person and person_link tables whole. Other tables stay views over the Parquet parts,
so any query still works. The slice is rebuilt when the lake catalog or the model set changes.

``LakeSlice`` wraps that connection for the engine: its lock (one query at a time), the patient id
→ person_id cache, and, per published index-event model, every person's features at their latest
index event computed in one pass when the slice is built, so a call without prefetch is a lookup.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import duckdb
import numpy as np

from medlake.cdm.lake import Lake
from medlake.cdm.schema import TABLES
from medlake.models.catalogue import DOMAINS, code_predicate
from medlake.models.extract import extract_latest
from medlake.models.spec import (
    ConditionFeature,
    DrugFeature,
    IndexEventSource,
    MeasurementFeature,
    NlpFeature,
    NoteTextFeature,
    NoteValueFeature,
    ProcedureFeature,
    TaskSpec,
    TimeToFeature,
    VariableFeature,
)

WHOLE = ("person", "person_link")


def _predicates(specs: list[TaskSpec]) -> dict[str, list[tuple[str, list[Any]]]]:
    preds: dict[str, list[tuple[str, list[Any]]]] = {}

    def add(domain: str, match: Any) -> None:
        d = DOMAINS[domain]
        preds.setdefault(d.table, []).append(code_predicate(f"e.{d.code}", f"e.{d.concept}", match))

    for spec in specs:
        if isinstance(spec.source, IndexEventSource):
            add(spec.source.domain, spec.source.match)
        for f in spec.features:
            if isinstance(f, ConditionFeature | ProcedureFeature | DrugFeature):
                add(f.kind, f.match)
            elif isinstance(f, MeasurementFeature):
                add("measurement", f.match)
            elif isinstance(f, VariableFeature):
                add("observation", f.match)
            elif isinstance(f, TimeToFeature):
                add(f.domain, f.match)
            elif isinstance(f, NlpFeature):
                a, pa = code_predicate("e.concept_code", "e.note_nlp_concept_id", f.match)
                b, pb = code_predicate("e.lexical_variant", "e.note_nlp_source_concept_id", f.match)
                preds.setdefault("note_nlp", []).append((f"({a} OR {b})", pa + pb))
            elif isinstance(f, NoteTextFeature):
                preds.setdefault("note", []).append(
                    (
                        "len(list_filter(?::VARCHAR[], lambda s: contains(e.note_text, s))) > 0",
                        [list(f.phrases)],
                    )
                )
            elif isinstance(f, NoteValueFeature):
                kinds = list(f.note_kinds)
                preds.setdefault("note", []).append(
                    (
                        "contains(e.note_text, ?) AND (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], e.note_source_value))",
                        [f.label, kinds, kinds],
                    )
                )
    if any(isinstance(f, NlpFeature) for spec in specs for f in spec.features):
        preds.pop("note", None)  # NLP facts take their dates from their notes: keep every note
    return preds


def sliced_connection(lake: Lake, specs: list[TaskSpec]) -> duckdb.DuckDBPyConnection:
    """An in-memory connection whose tables hold only what ``specs`` can read (see module doc)."""
    con = duckdb.connect(":memory:")
    con.execute("SET threads=1")
    preds = _predicates(specs)
    for name in TABLES:
        view = lake.view_sql(name)
        if name in preds:
            where = " OR ".join(f"({sql})" for sql, _ in preds[name])
            params = [p for _, ps in preds[name] for p in ps]
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM ({view}) e WHERE {where}', params)
        elif name in WHOLE:
            con.execute(f'CREATE TABLE "{name}" AS {view}')
        else:
            con.execute(f'CREATE VIEW "{name}" AS {view}')
    return con


class LakeSlice:
    """The sliced connection plus what the engine keeps with it (see module doc).

    Callers hold ``lock`` around every use of ``con`` and of the methods below.
    """

    def __init__(self, lake: Lake, specs: dict[str, TaskSpec], key: Any) -> None:
        self.key = key
        self.lock = threading.Lock()
        self.con = sliced_connection(lake, list(specs.values()))
        self.latest = {name: extract_latest(self.con, spec) for name, spec in specs.items()}
        self._persons: dict[str, int | None] = {}

    def knows(self, patient_id: str) -> bool:
        """Whether ``person_id(patient_id)`` is answered from the cache (no query)."""
        return patient_id in self._persons

    def person_id(self, patient_id: str) -> int | None:
        if patient_id in self._persons:
            return self._persons[patient_id]
        row = self.con.execute(
            "SELECT person_id FROM person WHERE CAST(person_id AS VARCHAR) = ? OR person_source_value = ? "
            "UNION ALL SELECT person_id FROM person_link WHERE src_person_id = ? LIMIT 1",
            [patient_id, patient_id, patient_id],
        ).fetchall()
        pid = int(row[0][0]) if row else None
        self._persons[patient_id] = pid
        return pid

    def at_latest_index(self, model_key: str, person_id: int) -> tuple[np.ndarray, datetime] | None:
        """The person's features at their latest index event, or None (no such event)."""
        found = self.latest.get(model_key, {}).get(person_id)
        return (found[0].copy(), found[1]) if found is not None else None
