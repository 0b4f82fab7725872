"""Building datasets from the lake: values checked against the fixture rows, every cohort source, previews."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from medlake.cdm.lake import Lake
from medlake.errors import NotFound
from medlake.export.builder import build_dataset, build_from_lake, deidentify_dataset, preview
from medlake.export.spec import DatasetSpec
from medlake.privacy.keys import ProjectKey
from tests.export.conftest import spec_dict
from tests.export.lakegen import make_rows


def _by_person(rows: list[dict[str, object]]) -> dict[object, list[dict[str, object]]]:
    out: dict[object, list[dict[str, object]]] = {}
    for r in rows:
        out.setdefault(r["person_id"], []).append(r)
    return out


def test_values_match_the_source_rows(tiny_lake: Path) -> None:
    spec = DatasetSpec.model_validate(spec_dict())
    built = build_from_lake(spec, tiny_lake)
    src = make_rows(60)
    visits = {r["person_id"]: r["visit_start_date"] for r in src["visit_occurrence"]}
    labs = _by_person(src["measurement"])
    conds = {r["person_id"] for r in src["condition_occurrence"]}
    drugs = _by_person(src["drug_exposure"])
    people = {r["person_id"]: r for r in src["person"]}
    rows = built.tables["patients"].to_pylist()
    assert len(rows) == 60
    for row in rows:
        pid = row["person_id"]
        index = visits[pid]
        assert row["index_date"] == index
        birth = people[pid]["birth_datetime"].date()  # type: ignore[attr-defined]
        age = index.year - birth.year - ((index.month, index.day) < (birth.month, birth.day))  # type: ignore[attr-defined]
        assert row["age"] == age
        assert row["sex"] == ("男" if people[pid]["gender_concept_id"] == 8507 else "女")
        assert row["city"] in ("杭州市", "宁波市", "南京市")
        assert row["t2dm"] == (pid in conds)
        window = [m for m in labs[pid] if index - timedelta(days=45) <= m["measurement_date"] <= index]  # type: ignore[operator]
        window.sort(key=lambda m: m["measurement_date"])  # type: ignore[arg-type,return-value]
        assert row["hba1c_count"] == len(window) == 2
        assert row["hba1c_first"] == window[0]["value_as_number"]
        assert row["hba1c_last"] == window[-1]["value_as_number"]
        assert row["hba1c_max"] == max(m["value_as_number"] for m in window)  # type: ignore[type-var]
        assert row["metformin"] == len(drugs.get(pid, []))
    notes = built.tables["notes"]
    assert notes.num_rows == 60 and set(notes.column_names) >= {"note_text", "doc_type"}
    assert built.registry.num_rows == 60


def test_cohort_sources(tiny_lake: Path) -> None:
    lake = Lake(tiny_lake)
    with lake.transaction() as tx:
        tx.write(
            "cohort",
            "c7",
            [
                {"cohort_definition_id": 7, "subject_id": 1001, "cohort_start_date": date(2022, 5, 1)},
                {"cohort_definition_id": 7, "subject_id": 1002, "cohort_start_date": date(2022, 6, 1)},
                {"cohort_definition_id": 8, "subject_id": 1003, "cohort_start_date": date(2022, 6, 1)},
            ],
        )
    con = lake.connect()
    by_cohort = DatasetSpec.model_validate(
        spec_dict(
            cohort={"kind": "cohort", "cohort_definition_id": 7}, index={"kind": "cohort_start"}, notes=None
        )
    )
    t = build_dataset(by_cohort, con).tables["patients"]
    assert t.column("person_id").to_pylist() == [1001, 1002]
    assert t.column("index_date").to_pylist() == [date(2022, 5, 1), date(2022, 6, 1)]
    listed = DatasetSpec.model_validate(
        spec_dict(
            cohort={"kind": "persons", "person_ids": [1005, 1003, 99999]},
            index={"kind": "fixed", "date": "2023-01-01"},
        )
    )
    t = build_dataset(listed, con).tables["patients"]
    assert t.column("person_id").to_pylist() == [1003, 1005]
    assert set(t.column("index_date").to_pylist()) == {date(2023, 1, 1)}
    filtered = DatasetSpec.model_validate(
        spec_dict(
            cohort={"kind": "filter", "sex": "女", "condition_codes": ["E11"]},
            index={"kind": "first_condition", "codes": ["E11"]},
        )
    )
    t = build_dataset(filtered, con).tables["patients"]
    assert t.num_rows > 0 and set(t.column("sex").to_pylist()) == {"女"} and all(t.column("t2dm").to_pylist())


def test_missing_cohort_table_is_a_clear_error(tiny_lake: Path) -> None:
    con = Lake(tiny_lake).connect()
    con.execute("DROP VIEW cohort")
    spec = DatasetSpec.model_validate(
        spec_dict(cohort={"kind": "cohort", "cohort_definition_id": 1}, index={"kind": "cohort_start"})
    )
    with pytest.raises(NotFound, match="cohort"):
        build_dataset(spec, con)


def test_nlp_facts(tiny_lake: Path) -> None:
    lake = Lake(tiny_lake)
    src = make_rows(60)
    with lake.transaction() as tx:
        tx.write(
            "note_nlp",
            "nlp",
            [
                {
                    "note_nlp_id": i,
                    "note_id": n["note_id"],
                    "lexical_variant": "糖尿病",
                    "term_exists": "Y" if i % 2 else "N",
                }
                for i, n in enumerate(src["note"][:10])
            ],
        )
    spec = DatasetSpec.model_validate(
        spec_dict(
            variables=[
                {
                    "type": "nlp_fact",
                    "name": "dm_text",
                    "terms": ["糖尿病"],
                    "window": {"start_days": -1, "end_days": 1},
                }
            ]
        )
    )
    t = build_from_lake(spec, tiny_lake).tables["patients"]
    assert sum(t.column("dm_text").to_pylist()) == 5  # only the asserted (term_exists = Y) mentions


def test_deidentified_preview(tiny_lake: Path) -> None:
    spec = DatasetSpec.model_validate(spec_dict())
    key = ProjectKey.load_or_create(tiny_lake, "p1")
    out = preview(spec, tiny_lake, key, rows=3)
    assert len(out["patients"]) == 3 and len(out["notes"]) == 3
    assert all(str(r["person_id"]).startswith("p") for r in out["patients"])
    built = build_from_lake(spec, tiny_lake)
    names = {r["name"] for r in built.registry.to_pylist()}
    tables, report, plans = deidentify_dataset(built, key)
    texts = " ".join(tables["notes"].column("note_text").to_pylist())
    assert not any(n in texts for n in names)
    assert plans["notes"]["note_text"].action == "scrub"
    assert report.kanon is not None and report.kanon.k == 5
