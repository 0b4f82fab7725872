"""Native medlake definitions on the tiny hospital: every criterion domain, windows, counts, groups."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from medlake.cdm.lake import Lake
from medlake.cohort import load_any, run_cohort
from medlake.errors import ValidationFailed

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "medlake" / "cohort" / "examples"
BREAST = {"type": "condition", "icd10": ["C50"]}


def definition(
    *rules: dict[str, Any], exclusions: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "medlake_cohort": 1,
        "id": "t",
        "entry": {"criteria": [BREAST], "limit": "first"},
        "inclusion": list(rules),
        "exclusions": exclusions or [],
        **extra,
    }


def rule(name: str, *items: dict[str, Any], type: str = "all", count: int | None = None) -> dict[str, Any]:
    group: dict[str, Any] = {"type": type, "items": list(items)}
    if count is not None:
        group["count"] = count
    return {"name": name, "group": group}


def persons(lake: Lake, d: dict[str, Any]) -> list[int]:
    res = run_cohort(lake, load_any(d, cohort_id=7), save=False)
    return sorted(set(res.rows.column("subject_id").to_pylist()))


def test_headline_example_funnel(tiny_lake: Lake) -> None:
    d = json.loads((EXAMPLES / "triple_positive_breast_cancer.json").read_text(encoding="utf-8"))
    res = run_cohort(tiny_lake, load_any(d), save=False)
    assert sorted(res.rows.column("subject_id").to_pylist()) == [1, 5]
    assert res.qualified_persons == 5
    assert [r.persons_passed for r in res.rules] == [5, 4, 4, 4, 3]
    assert [r.persons_remaining for r in res.rules] == [5, 4, 4, 3, 2]


def test_icd10_prefix_is_hierarchical_and_first_limit(tiny_lake: Lake) -> None:
    assert persons(tiny_lake, definition()) == [1, 2, 3, 5, 6]
    d = definition()
    d["entry"]["criteria"] = [{"type": "condition", "icd10": ["C50.9"]}]
    assert persons(tiny_lake, d) == [1, 2, 5, 6]  # C50.401 of person 3 is not under C50.9
    d["entry"]["limit"] = "all"
    res = run_cohort(tiny_lake, load_any(d), save=False)
    assert res.qualified_events == 5  # person 1 has two C50.900 entries


def test_measurement_value_text_and_numeric_filters(tiny_lake: Lake) -> None:
    pr_negative = {"criterion": {"type": "measurement", "codes": ["7002"], "value_text": ["阴性"]}}
    assert persons(tiny_lake, definition(rule("PR-", pr_negative))) == [2]
    d = definition()
    d["entry"]["criteria"] = [
        {"type": "measurement", "codes": ["1001"], "value_min": 10, "abnormal": ["H"], "unit": ["10^9/L"]}
    ]
    assert persons(tiny_lake, d) == [4]
    d["entry"]["criteria"][0]["value_min"] = 13
    assert persons(tiny_lake, d) == []


def test_time_window_relative_to_index(tiny_lake: Lake) -> None:
    dm_before = {
        "criterion": {"type": "condition", "icd10": ["E11", "I10"]},
        "window": {"start": None, "end": 0},
    }
    # person 1: diabetes 2015 (before), person 2: hypertension 2021 (after), person 5: I10 2019 (before)
    assert persons(tiny_lake, definition(rule("history", dm_before))) == [1, 5]
    dm_after = {
        "criterion": {"type": "condition", "icd10": ["E11", "I10"]},
        "window": {"start": 1, "end": 730},
    }
    assert persons(tiny_lake, definition(rule("later", dm_after))) == [2]
    near = {"criterion": {"type": "measurement", "codes": ["7001"]}, "window": {"start": 0, "end": 2}}
    assert persons(tiny_lake, definition(rule("ER within 2 days", near))) == [1, 2, 3, 5, 6]
    near["window"]["end"] = 1
    assert persons(tiny_lake, definition(rule("ER within 1 day", near))) == []


def test_occurrence_counts(tiny_lake: Lake) -> None:
    c50 = {"type": "condition", "icd10": ["C50"]}
    at_least_2 = {"criterion": c50, "occurrence": {"type": "at_least", "count": 2}}
    assert persons(tiny_lake, definition(rule("2+", at_least_2))) == [1]
    exactly_1 = {"criterion": c50, "occurrence": {"type": "exactly", "count": 1}}
    assert persons(tiny_lake, definition(rule("=1", exactly_1))) == [2, 3, 5, 6]
    at_most_0 = {
        "criterion": {"type": "drug", "codes": ["曲妥珠单抗"]},
        "occurrence": {"type": "at_most", "count": 0},
    }
    assert persons(tiny_lake, definition(rule("no trastuzumab", at_most_0))) == [2, 3, 5, 6]


def test_nlp_assertions_and_note_text(tiny_lake: Lake) -> None:
    dm_note = {"criterion": {"type": "nlp", "code": ["E11"]}}  # default assertion: present
    assert persons(tiny_lake, definition(rule("dm in notes", dm_note))) == [3]
    negated = {"criterion": {"type": "nlp", "entity": ["糖尿病"], "assertion": ["negated"]}}
    assert persons(tiny_lake, definition(rule("denied dm", negated))) == [6]
    text = {"criterion": {"type": "note_text", "all_of": ["肺转移"], "doc_type": ["影像报告"]}}
    assert persons(tiny_lake, definition(rule("report says 肺转移", text))) == [1, 6]
    none_of = {"criterion": {"type": "note_text", "any_of": ["双肺"], "none_of": ["未见"]}}
    assert persons(tiny_lake, definition(rule("双肺 not 未见", none_of))) == [1, 5]


def test_imaging_finding_via_linked_report(tiny_lake: Lake) -> None:
    ct = {"type": "imaging", "modality": ["ct"], "body_part": ["chest"]}
    assert persons(tiny_lake, definition(rule("chest CT", {"criterion": ct}))) == [1, 3, 5, 6]
    mets = {"criterion": {**ct, "finding_nlp": ["C78"]}}
    assert persons(tiny_lake, definition(rule("mets (nlp)", mets))) == [1, 5, 6]
    text = {"criterion": {**ct, "finding": ["转移"]}}
    assert persons(tiny_lake, definition(rule("mets (text)", text))) == [1, 5, 6]


def test_groups_nest_and_demographics(tiny_lake: Lake) -> None:
    older = {"demographic": {"age": {"min": 50}}}  # age at index 2020: p1 60, p2 50, p3 40, p5 55, p6 30
    assert persons(tiny_lake, definition(rule("50+", older))) == [1, 2, 5]
    dm = {"criterion": {"type": "condition", "icd10": ["E11"]}}
    htn = {"criterion": {"type": "condition", "icd10": ["I10"]}}
    nested = {"type": "any", "items": [dm, htn]}
    young = {"demographic": {"age": {"max": 45}}}
    assert persons(tiny_lake, definition(rule("young or (dm or htn)", young, nested, type="any"))) == [
        1,
        2,
        3,
        5,
        6,
    ]
    assert (
        persons(tiny_lake, definition(rule("two of three", young, dm, htn, type="at_least", count=2))) == []
    )
    assert persons(tiny_lake, definition(rule("female", {"demographic": {"sex": ["M"]}}))) == []


def test_exclusions_and_visit_department(tiny_lake: Lake) -> None:
    ward = {"criterion": {"type": "visit", "visit_type": ["inpatient"], "department": ["乳腺外科"]}}
    assert persons(tiny_lake, definition(rule("ward", ward))) == [1]
    excl = rule("hypertension", {"criterion": {"type": "condition", "icd10": ["I10"]}})
    d = definition(exclusions=[excl])
    res = run_cohort(tiny_lake, load_any(d), save=False)
    assert sorted(res.rows.column("subject_id").to_pylist()) == [1, 3, 6]
    assert res.rules[0].name == "hypertension" and res.rules[0].persons_passed == 3


def test_fixed_exit_and_strict_parsing(tiny_lake: Lake) -> None:
    d = definition(exit={"type": "fixed", "days": 30})
    res = run_cohort(tiny_lake, load_any(d), save=False)
    spans = {
        r["subject_id"]: (r["cohort_end_date"] - r["cohort_start_date"]).days for r in res.rows.to_pylist()
    }
    assert set(spans.values()) == {30}
    bad = copy.deepcopy(definition())
    bad["entry"]["criteria"][0]["icd_10"] = ["C50"]
    with pytest.raises(ValidationFailed, match="icd_10"):
        load_any(bad)
    with pytest.raises(ValidationFailed):
        load_any(definition(rule("x", {"criterion": BREAST}, type="at_least")))
