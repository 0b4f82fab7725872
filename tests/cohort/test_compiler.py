"""The compiler: values only as literals, dialects, validation of what cannot be compiled."""

from __future__ import annotations

import duckdb
import pytest

from medlake.cdm.lake import Lake
from medlake.cohort import compile_expression, load_any, run_cohort
from medlake.cohort.circe.model import parse_expression
from medlake.cohort.sqlbuild import Params, build
from medlake.errors import ValidationFailed

NASTY = "C50'); DROP TABLE person; --"


def native(code: str) -> dict:  # type: ignore[type-arg]
    return {"medlake_cohort": 1, "id": "n", "entry": {"criteria": [{"type": "condition", "icd10": [code]}]}}


def test_user_values_stay_literals(tiny_lake: Lake) -> None:
    sql = "\n".join(compile_expression(load_any(native(NASTY)).expression).sql())
    assert "'C50''); DROP TABLE PERSON; --%'" in sql  # a LIKE prefix literal: upper-cased, quote doubled
    res = run_cohort(tiny_lake, load_any(native(NASTY)), save=False)
    assert res.persons == 0
    con = tiny_lake.connect()
    assert con.execute("SELECT COUNT(*) FROM person").fetchall()[0][0] == 6


def test_placeholders_bind_negative_numbers_and_dates() -> None:
    p = Params()
    stmt = build(
        f"SELECT CAST({p.add(-3)} AS INTEGER) AS a, {p.date('2000-02-01')} AS d, UPPER({p.add('x')}) AS s", p
    )
    assert duckdb.sql(stmt.render()).fetchall() == [(-3, __import__("datetime").date(2000, 2, 1), "X")]
    with pytest.raises(ValidationFailed):
        build("SELECT x FROM t WHERE y = :p9")
    with pytest.raises(ValidationFailed):
        p.date("yesterday")


def test_postgres_dialect_renders_every_statement() -> None:
    compiled = compile_expression(load_any(native("C50")).expression)
    pg = compiled.sql("postgres")
    assert len(pg) == len(compiled.statements)
    joined = "\n".join(pg)
    assert "'C50%'" in joined and "TEMPORARY TABLE ml_cohort_rows" in joined


def test_invalid_circe_inputs_are_rejected() -> None:
    with pytest.raises(ValidationFailed):
        parse_expression({"ConceptSets": []})
    expr = parse_expression({"PrimaryCriteria": {"CriteriaList": [{"Unknown": {}}]}})
    with pytest.raises(ValidationFailed, match="Unknown"):
        compile_expression(expr)
    expr = parse_expression({"PrimaryCriteria": {"CriteriaList": [{"ConditionOccurrence": {"Nonsense": 1}}]}})
    with pytest.raises(ValidationFailed, match="Nonsense"):
        compile_expression(expr)
    with pytest.raises(ValidationFailed, match="entry event"):
        compile_expression(parse_expression({"PrimaryCriteria": {"CriteriaList": []}}))


def test_malformed_circe_values_are_client_errors(tiny_lake: Lake) -> None:
    for bad in (
        {"PrimaryCriteria": []},
        {
            "PrimaryCriteria": {
                "CriteriaList": [{"ConditionOccurrence": {"Age": {"Value": "old", "Op": "gt"}}}]
            }
        },
        {
            "PrimaryCriteria": {
                "CriteriaList": [{"DrugExposure": {"EffectiveDrugDose": {"Value": 1, "Op": "gt"}}}]
            }
        },
    ):
        with pytest.raises(ValidationFailed):
            run_cohort(tiny_lake, load_any(bad), save=False)
