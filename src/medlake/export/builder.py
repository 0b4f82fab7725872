"""Build a dataset from the lake (DuckDB over the Parquet parts) and de-identify it.

``build_dataset`` runs the spec's queries and returns the raw tables (still identifying: they never
leave this process) plus the cohort's registry identities; ``deidentify_dataset`` resolves the
allow-list plan for every column, applies it, reaches k-anonymity and returns what may leave.
``preview`` is the first rows of exactly that de-identified output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from medlake.cdm.lake import Lake
from medlake.errors import NotFound
from medlake.export.columns import Column, spec_columns
from medlake.export.spec import CohortById, DatasetSpec, Demographic
from medlake.export.sql import notes_query, patients_query, registry_query, render
from medlake.privacy.actions import ColumnRule, load_action_set, resolve_plan
from medlake.privacy.deidentify import Deidentifier, DeidReport, TableInput
from medlake.privacy.generalise import place_of
from medlake.privacy.keys import ProjectKey
from medlake.privacy.release_scan import KnownIdentifiers
from medlake.privacy.scrubber import PatientContext, Scrubber


@dataclass
class BuiltDataset:
    spec: DatasetSpec
    tables: dict[str, pa.Table]
    columns: list[Column]
    registry: pa.Table

    def contexts(self) -> dict[Any, PatientContext]:
        """Per person: the registry names, identifiers and addresses the scrubber looks up exactly."""
        out: dict[Any, PatientContext] = {}
        cols = {c: self.registry.column(c).to_pylist() for c in self.registry.column_names}
        for i, person in enumerate(cols["person_id"]):
            ctx = out.get(person)
            if ctx is None:
                ctx = out[person] = PatientContext()
            if cols["name"][i]:
                ctx.names.add(cols["name"][i])
            for key in ("resident_id", "phone", "src_person_id"):
                if cols[key][i]:
                    ctx.identifiers.add(str(cols[key][i]))
            if cols["address"][i]:
                ctx.addresses.add(cols["address"][i])
        return out

    def known_identifiers(self) -> KnownIdentifiers:
        known = KnownIdentifiers()
        for row in self.registry.to_pylist():
            if row["name"]:
                known.names.add(row["name"])
            if row["resident_id"]:
                known.ids.add(row["resident_id"])
            if row["phone"]:
                known.phones.add(row["phone"])
            if row["address"]:
                known.addresses.add(row["address"])
            if row["src_person_id"]:
                known.record_numbers.add(row["src_person_id"])
        return known


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = $n", {"n": name}
    ).fetchall()
    return bool(rows and rows[0][0])


def _normalise_places(table: pa.Table, spec: DatasetSpec) -> pa.Table:
    """City / province columns hold the place only, never the street (the SQL may fall back to the address)."""
    for v in spec.variables:
        if isinstance(v, Demographic) and v.field in ("city", "province"):
            idx = 1 if v.field == "city" else 0
            cache: dict[Any, Any] = {}
            values = []
            for a in table.column(v.name).to_pylist():
                if a not in cache:
                    cache[a] = place_of(a)[idx]
                values.append(cache[a])
            table = table.set_column(
                table.schema.get_field_index(v.name), v.name, pa.array(values, pa.string())
            )
    return table


def build_dataset(spec: DatasetSpec, con: duckdb.DuckDBPyConnection) -> BuiltDataset:
    """Run the spec against a lake connection (``Lake(data_dir).connect()``)."""
    if isinstance(spec.cohort, CohortById) and not _has_table(con, "cohort"):
        raise NotFound(
            "the lake has no cohort table",
            hint="Generate the cohort first (`medlake cohort ...`) or use a person list or filter.",
        )
    q = patients_query(spec)
    patients = _normalise_places(con.sql(render(q), params=q.params).to_arrow_table(), spec)
    tables = {"patients": patients}
    if spec.notes is not None:
        nq = notes_query(spec)
        tables["notes"] = con.sql(render(nq), params=nq.params).to_arrow_table()
    rq = registry_query(spec)
    registry = con.sql(render(rq), params=rq.params).to_arrow_table()
    return BuiltDataset(spec, tables, spec_columns(spec), registry)


def build_from_lake(spec: DatasetSpec, data_dir: Path, *, threads: int | None = None) -> BuiltDataset:
    con = Lake(data_dir).connect(threads=threads)
    try:
        return build_dataset(spec, con)
    finally:
        con.close()


def column_plan(spec: DatasetSpec, columns: list[Column]) -> dict[str, dict[str, ColumnRule]]:
    """The explicit action of every column of every table (refused if any column has none)."""
    action_set = load_action_set(spec.deid.action_set)
    overrides: dict[str, dict[str, ColumnRule]] = {}
    for v in spec.variables:
        for col, rule in v.deid.items():
            overrides.setdefault("patients", {})[col] = rule
    for col, rule in spec.deid.columns.items():
        table, _, name = col.rpartition(".")
        overrides.setdefault(table or "patients", {})[name] = rule
    plans: dict[str, dict[str, ColumnRule]] = {}
    for table in dict.fromkeys(c.table for c in columns):
        kinds = {c.name: c.kind for c in columns if c.table == table}
        plans[table] = resolve_plan(kinds, overrides.get(table, {}), action_set)
    return plans


def deidentify_dataset(
    built: BuiltDataset, key: ProjectKey, *, scrubber: Scrubber | None = None
) -> tuple[dict[str, pa.Table], DeidReport, dict[str, dict[str, ColumnRule]]]:
    spec = built.spec
    plans = column_plan(spec, built.columns)
    inputs = {}
    scrubbing = any(
        plans[c.table][c.name].action == "scrub" for c in built.columns if c.name in plans.get(c.table, {})
    )
    for name, table in built.tables.items():
        kinds = {c.name: c.kind for c in built.columns if c.table == name}
        text_cols = [c.name for c in built.columns if c.table == name and c.kind == "text"]
        inputs[name] = TableInput(table, kinds, plans[name], text_cols)
    if scrubbing and scrubber is None:
        names = {n for n in built.registry.column("name").to_pylist() if n}
        scrubber = Scrubber(cohort_names=names)
    deid = Deidentifier(key, max_shift_days=spec.deid.max_shift_days, scrubber=scrubber)
    tables, report = deid.run(
        inputs,
        main="patients",
        k=spec.deid.k,
        max_suppression=spec.deid.max_suppression,
        contexts=built.contexts() if scrubbing else {},
    )
    return tables, report, plans


def preview(
    spec: DatasetSpec, data_dir: Path, key: ProjectKey, *, rows: int = 10
) -> dict[str, list[dict[str, Any]]]:
    """The first rows of each de-identified table: exactly what would leave."""
    built = build_from_lake(spec, data_dir)
    tables, _, _ = deidentify_dataset(built, key)
    return {name: t.slice(0, rows).to_pylist() for name, t in tables.items()}
