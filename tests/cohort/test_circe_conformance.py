"""The OHDSI circe-be cohort-generation fixtures, run case by case (alterations as in the Java tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medlake.cohort.circe.conformance import CASES, _expression, load_database, run_case
from medlake.cohort.runner import run_expression


@pytest.fixture(scope="module")
def circe_dir(shared_data: Path) -> Path:
    d = shared_data / "omop" / "circe_be_tests"
    if not d.exists():
        pytest.skip(f"circe-be fixtures not found at {d}")
    return d


@pytest.mark.parametrize("case", CASES, ids=[f"{c.group}-{c.name}" for c in CASES])
def test_circe_case(circe_dir: Path, case) -> None:  # type: ignore[no-untyped-def]
    result = run_case(circe_dir, case)
    assert result.passed, result.detail
    assert result.cohorts_passed == result.cohorts_total


def test_inclusion_rule_statistics_match_cohort_inclusion_result(circe_dir: Path) -> None:
    folder = circe_dir / "inclusionRules"
    verify = json.loads((folder / "simpleInclusionRule_VERIFY.json").read_text())
    expected = {
        (r["mode_id"], r["inclusion_rule_mask"]): r["person_count"]
        for r in verify["simpleInclusionRule.cohort_inclusion_result"]
    }
    case = next(c for c in CASES if c.group == "inclusionRules")
    con = load_database(folder / case.prep)
    res = run_expression(con, _expression(folder, case.steps[0]))
    got = {(mode, mask): n for mode, masks in res.mask_counts.items() for mask, n in masks.items()}
    assert got == expected
    assert [r.persons_passed for r in res.rules] == [1]
