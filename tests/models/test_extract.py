from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from medlake.cdm.lake import Lake
from medlake.errors import ValidationFailed
from medlake.models.extract import extract, extract_person
from medlake.models.spec import TaskSpec
from medlake.models.toylake import TOY_TASK, toy_spec


def _rows(d: Path, table: str) -> list[dict]:  # type: ignore[type-arg]
    return Lake(d).read(table).to_pylist()


def test_index_features_and_labels_match_the_lake(toy_lake: tuple[Path, dict[int, float]]) -> None:
    d, truth = toy_lake
    fm = extract(Lake(d).connect(), toy_spec())
    assert fm.n == len(truth) and fm.y is not None
    assert list(fm.person_ids) == sorted(truth)
    procs = _rows(d, "procedure_occurrence")
    surgery = {
        p["person_id"]: p["procedure_date"] for p in procs if p["procedure_source_value"].startswith("35.82")
    }
    reop = {p["person_id"] for p in procs if p["procedure_source_value"].startswith("35.99")}
    assert set(fm.person_ids[fm.y == 1].tolist()) == reop
    weights = {
        m["person_id"]: m["value_as_number"]
        for m in _rows(d, "measurement")
        if m["measurement_source_value"] == "WT"
    }
    cpb = {
        m["person_id"]: m["value_as_number"]
        for m in _rows(d, "measurement")
        if m["measurement_source_value"] == "CPB"
    }
    pvo = {c["person_id"] for c in _rows(d, "condition_occurrence")}
    births = {p["person_id"]: p["birth_datetime"].date() for p in _rows(d, "person")}
    col = {n: j for j, n in enumerate(fm.names)}
    for r, pid in enumerate(fm.person_ids.tolist()):
        assert fm.X[r, col["weight_kg"]] == pytest.approx(weights[pid])
        assert fm.X[r, col["pvo"]] == (1.0 if pid in pvo else 0.0)
        assert fm.X[r, col["age_days"]] == (surgery[pid] - births[pid]).days
        if pid in cpb:
            assert fm.X[r, col["cpb_min"]] == pytest.approx(cpb[pid])
        else:
            assert np.isnan(fm.X[r, col["cpb_min"]])


def test_snapshot_hash_is_stable_and_sensitive(toy_lake: tuple[Path, dict[int, float]]) -> None:
    d, _ = toy_lake
    con = Lake(d).connect()
    a = extract(con, toy_spec())
    b = extract(con, toy_spec())
    assert a.snapshot_hash() == b.snapshot_hash()
    assert a.y is not None
    a.y[0] = 1 - a.y[0]
    assert a.snapshot_hash() != b.snapshot_hash()


def test_codes_are_bound_parameters_not_sql(toy_lake: tuple[Path, dict[int, float]]) -> None:
    d, _ = toy_lake
    nasty = TOY_TASK | {
        "source": {"kind": "index_event", "domain": "procedure", "match": {"codes": ["x' OR 1=1 --"]}}
    }
    with pytest.raises(ValidationFailed, match="matches no patients"):
        extract(Lake(d).connect(), TaskSpec.model_validate(nasty))


def test_window_excludes_values_outside_it(tmp_path: Path) -> None:
    d = tmp_path / "d"
    with Lake(d).transaction() as tx:
        tx.write("person", "p", [{"person_id": 1, "year_of_birth": 2000, "gender_concept_id": 8532}])
        tx.write(
            "procedure_occurrence",
            "p",
            [
                {
                    "procedure_occurrence_id": 1,
                    "person_id": 1,
                    "procedure_source_value": "35.8201",
                    "procedure_date": date(2020, 6, 1),
                }
            ],
        )
        tx.write(
            "measurement",
            "p",
            [
                {
                    "measurement_id": i,
                    "person_id": 1,
                    "measurement_source_value": "WT",
                    "measurement_date": day,
                    "measurement_datetime": datetime(day.year, day.month, day.day),
                    "value_as_number": v,
                }
                for i, (day, v) in enumerate(
                    [
                        (date(2020, 5, 1), 9.0),
                        (date(2020, 5, 30), 4.0),
                        (date(2020, 5, 31), 5.0),
                        (date(2020, 6, 3), 7.0),
                    ]
                )
            ],
        )
    feats = [
        {
            "kind": "measurement",
            "name": "last_wt",
            "match": {"codes": ["WT"]},
            "agg": "last",
            "window": {"start_days": -7, "end_days": 0},
        },
        {
            "kind": "measurement",
            "name": "min_wt",
            "match": {"codes": ["WT"]},
            "agg": "min",
            "window": {"start_days": -7, "end_days": 0},
        },
        {
            "kind": "measurement",
            "name": "n_wt",
            "match": {"codes": ["W*"]},
            "agg": "count",
            "window": {"start_days": -60, "end_days": 5},
        },
        {"kind": "demographic", "name": "male", "field": "sex_male"},
        {"kind": "demographic", "name": "age", "field": "age_years"},
    ]
    spec = TaskSpec.model_validate(TOY_TASK | {"features": feats})
    fm = extract(Lake(d).connect(), spec)
    assert fm.X[0, :4].tolist() == [5.0, 4.0, 4.0, 0.0]
    assert 19.9 < fm.X[0, 4] < 20.0  # month of birth unknown → 1 July by convention
    x, at = extract_person(Lake(d).connect(), spec, 1)
    assert at == datetime(2020, 6, 1) and x[0] == 5.0


def test_nlp_and_note_text_features(tmp_path: Path) -> None:
    d = tmp_path / "d"
    with Lake(d).transaction() as tx:
        tx.write("person", "p", [{"person_id": p, "year_of_birth": 2020} for p in (1, 2)])
        tx.write(
            "procedure_occurrence",
            "p",
            [
                {
                    "procedure_occurrence_id": p,
                    "person_id": p,
                    "procedure_source_value": "35.8200",
                    "procedure_date": date(2020, 6, 1),
                }
                for p in (1, 2)
            ],
        )
        tx.write(
            "note",
            "p",
            [
                {
                    "note_id": 10,
                    "person_id": 1,
                    "note_date": date(2020, 6, 1),
                    "note_text": "体外循环时间120分钟，心下型",
                },
                {"note_id": 20, "person_id": 2, "note_date": date(2020, 6, 1), "note_text": "心上型"},
            ],
        )
        tx.write(
            "note_nlp",
            "p",
            [
                {
                    "note_nlp_id": 1,
                    "note_id": 10,
                    "person_id": 1,
                    "lexical_variant": "体外循环时间",
                    "assertion": "present",
                    "value_as_number": 120.0,
                },
                {
                    "note_nlp_id": 2,
                    "note_id": 20,
                    "person_id": 2,
                    "lexical_variant": "肺静脉梗阻",
                    "assertion": "negated",
                    "concept_code": "I28.800",
                },
            ],
        )
    feats = [
        {"kind": "nlp", "name": "cpb", "match": {"codes": ["体外循环时间"]}, "value": "number"},
        {"kind": "nlp", "name": "pvo", "match": {"codes": ["I28.8*"]}},
        {"kind": "note_text", "name": "infracardiac", "phrases": ["心下型", "混合型"]},
    ]
    fm = extract(Lake(d).connect(), TaskSpec.model_validate(TOY_TASK | {"features": feats}))
    assert fm.X[0].tolist() == [120.0, 0.0, 1.0]
    assert np.isnan(fm.X[1, 0]) and fm.X[1, 1:].tolist() == [0.0, 0.0]  # negated mention is not a fact


def test_log_transform_is_applied_to_the_feature(toy_lake: tuple[Path, dict[int, float]]) -> None:
    d, _ = toy_lake
    feats = [
        dict(TOY_TASK["features"][0]) | {"transform": "log1p"},
        TOY_TASK["features"][0] | {"name": "raw"},
    ]
    fm = extract(Lake(d).connect(), TaskSpec.model_validate(TOY_TASK | {"features": feats}))
    np.testing.assert_allclose(fm.X[:, 0], np.log1p(fm.X[:, 1]))
