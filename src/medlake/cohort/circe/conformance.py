"""Run the OHDSI circe-be cohort-generation conformance fixtures against medlake's compiler.

A fixture folder holds cohort expressions, ``*_PREP.json`` (rows to load, keyed ``cdm.<table>``)
and ``*_VERIFY.json`` (expected ``<schema>.cohort`` rows). Several circe-be Java tests alter the
expression in code between cohorts (a new limit, occurrence or group type, a criterion per
domain); ``CASES`` encodes those alterations, cohort by cohort, as the Java tests do. The
vocabulary the Java tests load (``/datasets/vocabulary.json``: concepts 1-4, concept 1 the parent
of 2 and 3) is generated here, not copied.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from medlake.cdm.schema import cdm_tables, duckdb_columns
from medlake.cohort.circe.model import CohortExpression, Criterion, parse_expression
from medlake.cohort.runner import run_expression
from medlake.errors import MedlakeError

VOCABULARY: dict[str, list[dict[str, Any]]] = {
    "concept": [
        {
            "concept_id": i,
            "concept_name": n,
            "domain_id": d,
            "vocabulary_id": "TestVocab",
            "standard_concept": "S",
        }
        for i, n, d in (
            (1, "Parent 1", "CONDITION"),
            (2, "Child 1", "CONDITION"),
            (3, "Child 2", "CONDITION"),
            (4, "Gender", "Gender"),
        )
    ],
    "concept_ancestor": [
        {
            "ancestor_concept_id": a,
            "descendant_concept_id": d,
            "min_levels_of_separation": lv,
            "max_levels_of_separation": lv,
        }
        for a, d, lv in ((1, 2, 1), (1, 3, 1), (4, 4, 0))
    ],
}

# The Java tests run on the CDM v5.0 DDL; these v5.0 columns are gone from v5.4 (and the lake).
_V50_COLUMNS = {"drug_exposure": [("effective_drug_dose", "DOUBLE"), ("dose_unit_concept_id", "INTEGER")]}

Mutation = Callable[[CohortExpression], None]


@dataclass
class CohortStep:
    cohort_id: int
    expression: str  # file name inside the group folder, or "" for an in-code expression
    mutate: Mutation | None = None


@dataclass
class Case:
    group: str
    name: str
    prep: str
    verify: str | None
    steps: list[CohortStep]
    must_fail: list[CohortStep] | None = None  # alterations the Java test expects to raise


def _set(path: str, value: Any) -> Mutation:
    def go(e: CohortExpression) -> None:
        obj: Any = e
        parts = path.split(".")
        for part in parts[:-1]:
            obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
        setattr(obj, parts[-1], value)

    return go


def _chain(*ms: Mutation) -> Mutation:
    def go(e: CohortExpression) -> None:
        for m in ms:
            m(e)

    return go


def _primary(domain: str, **attrs: Any) -> Mutation:
    return _set("primary_criteria", [Criterion(domain, dict(attrs))])


_FIRST_DOMAINS = [
    "ConditionEra",
    "ConditionOccurrence",
    "DeviceExposure",
    "DrugEra",
    "DrugExposure",
    "Measurement",
    "Observation",
    "ProcedureOccurrence",
    "Specimen",
    "VisitOccurrence",
    "PayerPlanPeriod",
]

CASES: list[Case] = [
    Case(
        "firstOccurrence",
        "firstOccurrenceTest",
        "firstOccurrenceTest_PREP.json",
        "firstOccurrenceTest_VERIFY.json",
        [
            CohortStep(i + 1, "firstOccurrenceTestExpression.json", _primary(d, First=True))
            for i, d in enumerate(_FIRST_DOMAINS)
        ],
    ),
    Case(
        "correlatedCriteria",
        "testCorrelatedCriteriaCounts",
        "countsTest_PREP.json",
        "countsTest_VERIFY.json",
        [
            CohortStep(1, "countsExpression.json"),
            CohortStep(
                2,
                "countsExpression.json",
                _chain(
                    _set("additional_criteria.criteria.0.occurrence.type", 2),
                    _set("additional_criteria.criteria.0.occurrence.count", 1),
                ),
            ),
            CohortStep(
                3,
                "countsExpression.json",
                _chain(
                    _set("additional_criteria.criteria.0.occurrence.type", 1),
                    _set("additional_criteria.criteria.0.occurrence.count", 0),
                ),
            ),
            CohortStep(4, "visitExpression.json"),
        ],
        must_fail=[
            CohortStep(5, "visitExpression.json", _set("additional_criteria.criteria.0.occurrence.type", -99))
        ],
    ),
    Case(
        "correlatedCriteria",
        "testGroups",
        "groupTest_PREP.json",
        "groupTest_VERIFY.json",
        [
            CohortStep(1, "groupExpression.json"),
            CohortStep(
                2,
                "groupExpression.json",
                _chain(_set("additional_criteria.type", "AT_LEAST"), _set("additional_criteria.count", 2)),
            ),
            CohortStep(
                3,
                "groupExpression.json",
                _chain(_set("additional_criteria.type", "AT_MOST"), _set("additional_criteria.count", 2)),
            ),
            CohortStep(
                4,
                "groupExpression.json",
                _chain(
                    _set("additional_criteria.type", "ALL"),
                    _set("additional_criteria.count", 2),
                    _set("additional_criteria.groups.0.type", "AT_MOST"),
                    _set("additional_criteria.groups.0.count", 0),
                ),
            ),
            CohortStep(
                5,
                "groupExpression.json",
                _chain(
                    _set("additional_criteria.type", "ALL"),
                    _set("additional_criteria.count", 2),
                    _set("additional_criteria.groups", []),
                ),
            ),
        ],
    ),
    Case(
        "limits",
        "testLimits",
        "limitTest_PREP.json",
        "limitTest_VERIFY.json",
        [
            CohortStep(1, "limitExpression.json"),
            CohortStep(2, "limitExpression.json", _set("expression_limit", "first")),
            CohortStep(
                3,
                "limitExpression.json",
                _chain(_set("expression_limit", "first"), _set("qualified_limit", "first")),
            ),
            CohortStep(
                4,
                "limitExpression.json",
                _chain(
                    _set("expression_limit", "first"),
                    _set("qualified_limit", "first"),
                    _set("primary_limit", "first"),
                ),
            ),
            CohortStep(
                5,
                "limitExpression.json",
                _chain(
                    _set("expression_limit", "first"),
                    _set("qualified_limit", "first"),
                    _set("primary_limit", "last"),
                ),
            ),
        ],
    ),
    Case(
        "inclusionRules",
        "testSimpleInclusionRule",
        "simpleInclusionRule_PREP.json",
        "simpleInclusionRule_VERIFY.json",
        [CohortStep(1, "simpleInclusionRule.json")],
    ),
    Case(
        "exits",
        "testContinuousExposure",
        "continuousExposure_PREP.json",
        "continuousExposure_VERIFY.json",
        [
            CohortStep(1, "continuousExposureExpression.json"),
            CohortStep(2, "continuousExposureExpression.json", _set("primary_limit", "first")),
        ],
        must_fail=[
            CohortStep(3, "continuousExposureExpression.json", _set("end_strategy.drug_codeset_id", None))
        ],
    ),
    Case(
        "exits",
        "testContinuousExposureCensor",
        "continuousExposureCensor_PREP.json",
        "continuousExposureCensor_VERIFY.json",
        [CohortStep(1, "continuousExposureCensorExpression.json")],
    ),
    Case(
        "exits",
        "testFixedOffset",
        "fixedOffset_PREP.json",
        "fixedOffset_VERIFY.json",
        [CohortStep(1, "fixedOffsetExpression.json")],
    ),
    Case(
        "exits",
        "testFixedOffsetCensor",
        "fixedOffsetCensor_PREP.json",
        "fixedOffsetCensor_VERIFY.json",
        [CohortStep(1, "fixedOffsetCensorExpression.json")],
    ),
    Case(
        "exits",
        "testCensorEvents",
        "censorEvent_PREP.json",
        "censorEvent_VERIFY.json",
        [CohortStep(1, "censorEventExpression.json")],
    ),
    Case(
        "censorWindow",
        "testCensorWindow",
        "censorWindow_PREP.json",
        "censorWindow_VERIFY.json",
        [CohortStep(1, "censorWindowExpression.json")],
    ),
    Case(
        "mixedConceptsets",
        "testMixedConceptsets",
        "mixedConceptsets_PREP.json",
        "mixedConceptsets_VERIFY.json",
        [CohortStep(1, "mixedConceptsetsExpression.json")],
    ),
    Case(
        "eraDupes",
        "testEraDupes",
        "eraDupes_PREP.json",
        "eraDupes_VERIFY.json",
        [CohortStep(1, "eraDupesExpression.json")],
    ),
    Case(
        "conditionOccurrence",
        "testConditionStatusCriteria",
        "conditionStatusTest_PREP.json",
        "conditionStatusTest_VERIFY.json",
        [
            CohortStep(1, "", _primary("ConditionOccurrence")),
            CohortStep(2, "", _primary("ConditionOccurrence", ConditionStatus=[])),
            CohortStep(3, "", _primary("ConditionOccurrence", ConditionStatus=[{"CONCEPT_ID": 1}])),
        ],
    ),
    Case("allCriteria", "allCriteriaTest", "", None, [CohortStep(1, "allCriteriaExpression.json")]),
]


def load_database(prep: Path | None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with every CDM table of medlake's schema, loaded from a PREP file."""
    con = duckdb.connect(":memory:")
    rows: dict[str, list[dict[str, Any]]] = {k: list(v) for k, v in VOCABULARY.items()}
    if prep is not None:
        for key, value in json.loads(prep.read_text()).items():
            rows[key.split(".")[-1]] = value
    for name in cdm_tables():
        cols = duckdb_columns(name) + _V50_COLUMNS.get(name, [])
        con.execute(f'CREATE TABLE "{name}" (' + ", ".join(f'"{c}" {t}' for c, t in cols) + ")")
        known = {c for c, _ in cols}
        for r in rows.get(name, []):
            keys = [k for k in r if k in known]
            con.execute(
                f'INSERT INTO "{name}" ('
                + ", ".join(f'"{k}"' for k in keys)
                + ") VALUES ("
                + ", ".join("?" for _ in keys)
                + ")",
                [r[k] for k in keys],
            )
    return con


def _expected(verify: Path) -> list[tuple[int, int, dt.date, dt.date]]:
    data = json.loads(verify.read_text())
    table = next(v for k, v in data.items() if k.endswith(".cohort"))
    return sorted(
        (
            int(r["cohort_definition_id"]),
            int(r["subject_id"]),
            dt.date.fromisoformat(r["cohort_start_date"]),
            dt.date.fromisoformat(r["cohort_end_date"]),
        )
        for r in table
    )


def _expression(folder: Path, step: CohortStep) -> CohortExpression:
    if step.expression:
        expr = parse_expression(json.loads((folder / step.expression).read_text()))
    else:
        expr = CohortExpression(prior_days=0, post_days=0)
    expr = copy.deepcopy(expr)
    if step.mutate:
        step.mutate(expr)
    return expr


@dataclass
class CaseResult:
    group: str
    name: str
    passed: bool
    cohorts_passed: int
    cohorts_total: int
    detail: str = ""


def run_case(root: Path, case: Case) -> CaseResult:
    folder = root / case.group
    con = load_database(folder / case.prep if case.prep else None)
    got: list[tuple[int, int, dt.date, dt.date]] = []
    errors = []
    for step in case.steps:
        try:
            res = run_expression(con, _expression(folder, step), cohort_definition_id=step.cohort_id)
            got.extend(
                (step.cohort_id, s, a, b)
                for s, a, b in zip(
                    res.rows.column("subject_id").to_pylist(),
                    res.rows.column("cohort_start_date").to_pylist(),
                    res.rows.column("cohort_end_date").to_pylist(),
                    strict=True,
                )
            )
        except (MedlakeError, duckdb.Error) as exc:
            errors.append(f"cohort {step.cohort_id}: {exc}")
    for step in case.must_fail or []:
        try:
            run_expression(con, _expression(folder, step), cohort_definition_id=step.cohort_id)
            errors.append(f"cohort {step.cohort_id}: expected an error, got none")
        except MedlakeError:
            pass
    total = len(case.steps)
    if case.verify is None:
        ok = not errors
        return CaseResult(case.group, case.name, ok, total - len(errors), total, "; ".join(errors))
    expected = _expected(folder / case.verify)
    got.sort()
    per_ok = sum(
        1
        for s in case.steps
        if [r for r in got if r[0] == s.cohort_id] == [r for r in expected if r[0] == s.cohort_id]
    )
    ok = got == expected and not errors
    detail = "; ".join(errors)
    if got != expected:
        detail += f" expected {expected} got {got}"
    return CaseResult(case.group, case.name, ok, per_ok, total, detail.strip())


def run_all(root: Path) -> list[CaseResult]:
    return [run_case(root, c) for c in CASES]
