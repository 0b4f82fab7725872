"""The cohort service: what the CLI and the web UI call.

``load_any`` accepts a medlake definition or an OHDSI Circe (ATLAS) expression; ``run_cohort``
runs it on the lake, writes the members into the lake table ``cohort`` (one part per cohort
definition id) and the run summary beside the saved definitions; ``characteristics`` and
``patient_list`` describe a cohort that has been run. Aggregates suppress small cells.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from medlake.cdm.ids import stable_id
from medlake.cdm.lake import Lake
from medlake.cohort.circe.model import CohortExpression, parse_expression
from medlake.cohort.model import CohortDefinition, parse_definition
from medlake.cohort.runner import CohortResult, run_expression
from medlake.cohort.translate import to_expression
from medlake.errors import InputFormatError, InputNotFound, NotFound, ValidationFailed

MIN_CELL = 5


@dataclass
class LoadedCohort:
    kind: str  # "medlake" or "circe"
    name: str
    cohort_definition_id: int
    expression: CohortExpression
    definition: CohortDefinition | None = None


def load_any(obj: dict[str, Any], *, name: str = "cohort", cohort_id: int | None = None) -> LoadedCohort:
    """A medlake definition (has ``medlake_cohort``) or a Circe expression (has ``PrimaryCriteria``)."""
    if "medlake_cohort" in obj or "entry" in obj:
        d = parse_definition(obj)
        cid = cohort_id if cohort_id is not None else stable_id("cohort", d.id) % 2_000_000_000
        return LoadedCohort("medlake", d.id, cid, to_expression(d), d)
    if "PrimaryCriteria" in obj:
        cid = cohort_id if cohort_id is not None else stable_id("cohort", name) % 2_000_000_000
        try:
            expr = parse_expression(obj)
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise ValidationFailed(f"malformed Circe expression: {type(exc).__name__}: {exc}") from exc
        return LoadedCohort("circe", name, cid, expr)
    raise InputFormatError("neither a medlake cohort definition nor an OHDSI Circe cohort expression")


def load_file(path: Path, *, cohort_id: int | None = None) -> LoadedCohort:
    if not path.exists():
        raise InputNotFound(f"cohort definition {path} not found")
    try:
        obj = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}") from exc
    return load_any(obj, name=path.stem, cohort_id=cohort_id)


def _store_dir(lake: Lake) -> Path:
    return lake.root / "cohorts"


def save_definition(lake: Lake, definition: CohortDefinition) -> Path:
    """Store a medlake definition as ``cohorts/<id>/v<version>.json`` (versions are never overwritten)."""
    folder = _store_dir(lake) / definition.id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"v{definition.version}.json"
    text = definition.model_dump_json(indent=2, by_alias=True)
    if path.exists() and path.read_text(encoding="utf-8") != text:
        raise InputFormatError(
            f"version {definition.version} of cohort {definition.id} already exists with other content",
            hint="Increase the definition's version.",
        )
    path.write_text(text, encoding="utf-8")
    return path


def list_cohorts(lake: Lake) -> list[dict[str, Any]]:
    out = []
    root = _store_dir(lake)
    for folder in (
        sorted(p for p in root.glob("*") if p.is_dir() and p.name != "runs") if root.exists() else []
    ):
        versions = sorted(int(p.stem[1:]) for p in folder.glob("v*.json") if p.stem[1:].isdigit())
        out.append({"id": folder.name, "versions": versions})
    runs = root / "runs"
    by_name = (
        {json.loads(p.read_text())["name"]: json.loads(p.read_text()) for p in runs.glob("*.json")}
        if runs.exists()
        else {}
    )
    for item in out:
        item["last_run"] = by_name.pop(item["id"], None)
    out.extend({"id": name, "versions": [], "last_run": run} for name, run in sorted(by_name.items()))
    return out


def run_cohort(
    lake: Lake, loaded: LoadedCohort, *, save: bool = True, threads: int | None = None
) -> CohortResult:
    con = lake.connect(threads=threads)
    try:
        result = run_expression(con, loaded.expression, cohort_definition_id=loaded.cohort_definition_id)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:  # malformed attribute values
        raise ValidationFailed(f"cannot compile the cohort: {type(exc).__name__}: {exc}") from exc
    except duckdb.Error as exc:
        raise ValidationFailed(
            f"the cohort query failed on the lake: {str(exc).splitlines()[0]}",
            hint="A criterion may need a column this lake does not have (e.g. CDM v5.0 drug dose fields).",
        ) from exc
    finally:
        con.close()
    if save:
        with lake.transaction() as tx:
            tx.write("cohort", f"cohort-{loaded.cohort_definition_id}", result.rows)
        runs = _store_dir(lake) / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        summary = {
            "name": loaded.name,
            "kind": loaded.kind,
            "ran_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        summary.update(result.summary())
        (runs / f"{loaded.cohort_definition_id}.json").write_text(
            json.dumps(summary, ensure_ascii=False, indent=2)
        )
    return result


def _members(con: duckdb.DuckDBPyConnection, cohort_id: int) -> None:
    n = con.execute("SELECT COUNT(*) FROM cohort WHERE cohort_definition_id = ?", [cohort_id]).fetchall()[0][
        0
    ]
    if not n:
        raise NotFound(
            f"cohort {cohort_id} has no members in the lake", hint="Run it first: medlake cohort run DEF.json"
        )
    con.execute(
        "CREATE TEMPORARY TABLE ml_members AS SELECT c.subject_id AS person_id, c.cohort_start_date, c.cohort_end_date "
        "FROM cohort c WHERE c.cohort_definition_id = ?",
        [cohort_id],
    )


def _suppress(rows: list[tuple[Any, ...]], min_cell: int) -> list[dict[str, Any]]:
    return [
        {
            "key": r[0],
            "label": r[1] if len(r) > 2 else r[0],
            "persons": int(r[-1]) if r[-1] >= min_cell else None,
        }
        for r in rows
    ]


def characteristics(lake: Lake, cohort_id: int, *, top: int = 10, min_cell: int = MIN_CELL) -> dict[str, Any]:
    """Age/sex at cohort start, top diagnoses, labs and drugs (persons per item, small cells hidden)."""
    con = lake.connect()
    try:
        _members(con, cohort_id)
        first = "SELECT person_id, MIN(cohort_start_date) AS d FROM ml_members GROUP BY person_id"
        persons = con.execute("SELECT COUNT(DISTINCT person_id) FROM ml_members").fetchall()[0][0]
        age = con.execute(
            f"SELECT CAST(FLOOR((EXTRACT(YEAR FROM m.d) - p.year_of_birth) / 10) * 10 AS INTEGER) AS band, COUNT(*) "
            f"FROM ({first}) m JOIN person p USING (person_id) GROUP BY 1 ORDER BY 1"
        ).fetchall()
        sex = con.execute(
            f"SELECT CASE p.gender_concept_id WHEN 8507 THEN 'M' WHEN 8532 THEN 'F' ELSE 'U' END, COUNT(*) "
            f"FROM ({first}) m JOIN person p USING (person_id) GROUP BY 1 ORDER BY 1"
        ).fetchall()

        def top_items(table: str, code: str, concept: str) -> list[tuple[Any, ...]]:
            return con.execute(
                f"SELECT COALESCE(NULLIF(t.{code}, ''), CAST(t.{concept} AS VARCHAR)) AS k, "
                f"MAX(COALESCE(c.concept_name, t.{code})) AS label, COUNT(DISTINCT t.person_id) AS n "
                f"FROM {table} t JOIN (SELECT DISTINCT person_id FROM ml_members) m USING (person_id) "
                f"LEFT JOIN concept c ON c.concept_id = t.{concept} AND t.{concept} <> 0 "
                f"GROUP BY 1 ORDER BY n DESC, k LIMIT {int(top)}"
            ).fetchall()

        return {
            "cohort_definition_id": cohort_id,
            "persons": int(persons),
            "min_cell": min_cell,
            "age_bands": [
                {
                    "band": f"{int(b)}-{int(b) + 9}" if b is not None else "unknown",
                    "persons": int(n) if n >= min_cell else None,
                }
                for b, n in age
            ],
            "sex": [{"sex": s, "persons": int(n) if n >= min_cell else None} for s, n in sex],
            "top_diagnoses": _suppress(
                top_items("condition_occurrence", "condition_source_value", "condition_concept_id"), min_cell
            ),
            "top_labs": _suppress(
                top_items("measurement", "measurement_source_value", "measurement_concept_id"), min_cell
            ),
            "top_drugs": _suppress(
                top_items("drug_exposure", "drug_source_value", "drug_concept_id"), min_cell
            ),
        }
    finally:
        con.close()


def patient_list(lake: Lake, cohort_id: int, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Cohort members with sex and age at entry (patient-level: callers must audit the access)."""
    con = lake.connect()
    try:
        _members(con, cohort_id)
        total = con.execute("SELECT COUNT(*) FROM ml_members").fetchall()[0][0]
        rows = con.execute(
            "SELECT m.person_id, m.cohort_start_date, m.cohort_end_date, p.gender_concept_id, "
            "EXTRACT(YEAR FROM m.cohort_start_date) - p.year_of_birth FROM ml_members m LEFT JOIN person p USING (person_id) "
            "ORDER BY m.person_id, m.cohort_start_date LIMIT ? OFFSET ?",
            [int(limit), int(offset)],
        ).fetchall()
    finally:
        con.close()
    sexes = {8507: "M", 8532: "F"}
    return {
        "cohort_definition_id": cohort_id,
        "total": int(total),
        "patients": [
            {
                "person_id": r[0],
                "cohort_start_date": r[1].isoformat(),
                "cohort_end_date": r[2].isoformat() if r[2] else None,
                "sex": sexes.get(r[3], "U"),
                "age_at_entry": int(r[4]) if r[4] is not None else None,
            }
            for r in rows
        ],
    }
