"""An in-memory slice of the lake holding only the rows the published models can ask for.

Decision support looks up one patient at a time. Rather than scan the Parquet parts on every
request, the engine's DuckDB connection keeps, per lake table, only the rows matching some
published feature or index event (by the same bound-parameter code predicates the catalogue uses),
plus the person and person_link tables whole. Other tables stay views over the Parquet parts,
so any query still works. The slice is rebuilt when the lake catalog or the model set changes.
"""

from __future__ import annotations

from typing import Any

import duckdb

from medlake.cdm.lake import Lake
from medlake.cdm.schema import TABLES
from medlake.models.catalogue import DOMAINS, code_predicate
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
