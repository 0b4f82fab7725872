from __future__ import annotations

import json

import pytest

from medlake.errors import InputFormatError
from medlake.models.spec import TaskSpec
from medlake.models.toylake import TOY_TASK


def _text(**changes: object) -> str:
    return json.dumps(TOY_TASK | changes)


def test_toy_task_parses_with_defaults() -> None:
    spec = TaskSpec.parse(_text())
    assert spec.algorithm.name == "lasso"
    assert spec.split.method == "stratified"
    assert [f.name for f in spec.features][:2] == ["age_days", "male"]
    assert spec.cds.hooks == ["patient-view"]


def test_unknown_key_is_an_error() -> None:
    with pytest.raises(InputFormatError, match="Extra inputs"):
        TaskSpec.parse(_text(colour="red"))


def test_feature_name_must_be_an_identifier() -> None:
    feats = [{"kind": "demographic", "name": "age; DROP TABLE person", "field": "age_years"}]
    with pytest.raises(InputFormatError, match="features.0.demographic.name"):
        TaskSpec.parse(_text(features=feats))


def test_duplicate_feature_names_rejected() -> None:
    feats = [{"kind": "demographic", "name": "a", "field": "age_years"}] * 2
    with pytest.raises(InputFormatError, match="duplicate feature names"):
        TaskSpec.parse(_text(features=feats))


def test_window_must_be_ordered() -> None:
    feats = [
        {
            "kind": "condition",
            "name": "c",
            "match": {"codes": ["I10"]},
            "window": {"start_days": 5, "end_days": 1},
        }
    ]
    with pytest.raises(InputFormatError, match="start_days"):
        TaskSpec.parse(_text(features=feats))


def test_outcome_needs_codes_unless_death() -> None:
    with pytest.raises(InputFormatError, match="needs match codes"):
        TaskSpec.parse(_text(outcome={"domain": "procedure"}))
    assert TaskSpec.parse(_text(outcome={"domain": "death"})).outcome.domain == "death"


def test_unknown_algorithm_and_bands() -> None:
    with pytest.raises(InputFormatError, match="algorithm.name"):
        TaskSpec.parse(_text(algorithm={"name": "deep_magic"}))
    with pytest.raises(InputFormatError, match="low_below"):
        TaskSpec.parse(_text(bands={"low_below": 0.5, "high_from": 0.2}))


def test_load_missing_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from medlake.errors import InputNotFound

    with pytest.raises(InputNotFound):
        TaskSpec.load(tmp_path / "nope.json")


def test_with_algorithm_keeps_everything_else() -> None:
    spec = TaskSpec.parse(_text())
    other = spec.with_algorithm("lightgbm", {"num_leaves": [4]})
    assert other.algorithm.name == "lightgbm" and other.algorithm.grid == {"num_leaves": [4]}
    assert other.features == spec.features


def test_shipped_tasks_parse() -> None:
    from pathlib import Path

    import medlake.models

    tasks = sorted((Path(medlake.models.__file__).parent / "tasks").glob("*.json"))
    assert [p.stem for p in tasks] == ["burn_shock", "tapvc_reoperation"]
    for path in tasks:
        spec = TaskSpec.load(path)
        assert spec.name == path.stem and len(spec.features) >= 5
