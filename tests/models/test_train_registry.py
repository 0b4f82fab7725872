from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from medlake.cdm.lake import Lake
from medlake.errors import NotFound, PermissionDenied, ValidationFailed
from medlake.models import Registry, StaticDirectory, load_model, train
from medlake.models.extract import extract
from medlake.models.toylake import toy_spec

GRIDS: dict[str, dict[str, list[Any]]] = {
    "lasso": {"C": [0.1, 1.0]},
    "ridge": {"C": [1.0]},
    "lightgbm": {"num_leaves": [4], "num_boost_round": [100], "learning_rate": [0.05]},
    "random_forest": {"max_depth": [4], "min_samples_leaf": [20], "n_estimators": [60]},
    "svm": {"C": [1.0]},
}


@pytest.fixture(scope="module")
def trained(
    toy_lake: tuple[Path, dict[int, float]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Registry, dict[str, dict[str, Any]], Path]:
    d, _ = toy_lake
    reg = Registry(tmp_path_factory.mktemp("reg"))
    con = Lake(d).connect()
    out = {
        name: train(con, toy_spec().with_algorithm(name, grid), reg, trainer="alice")
        for name, grid in GRIDS.items()
    }
    return reg, out, d


def _test_predictions(reg: Registry, m: dict[str, Any]) -> list[dict[str, str]]:
    data = reg.read_artifact(m["task"], m["version"], "test_predictions").decode()
    return list(csv.DictReader(data.splitlines()))


def test_lasso_recovers_the_true_risk_model(trained: Any, toy_lake: tuple[Path, dict[int, float]]) -> None:
    reg, models, _ = trained
    _, truth = toy_lake
    m = models["lasso"]
    rows = _test_predictions(reg, m)
    y = np.array([int(r["outcome"]) for r in rows])
    true_auc = roc_auc_score(y, [truth[int(r["person_id"])] for r in rows])
    assert m["metrics"]["test"]["auroc"] == pytest.approx(
        roc_auc_score(y, [float(r["predicted"]) for r in rows]), abs=1e-6
    )
    assert abs(m["metrics"]["test"]["auroc"] - true_auc) < 0.05
    assert m["sizes"]["test"] == len(rows) == 125
    assert m["cv"] and all(c["cv_auroc"] is not None for c in m["cv"])  # the grid was searched
    assert m["weights"]["pvo"] > 0  # obstruction raises the risk in the true model


def test_every_algorithm_round_trips_without_pickle(trained: Any) -> None:
    reg, models, _ = trained
    for name, m in models.items():
        lm = load_model(reg, m["task"], m["version"])
        rows = _test_predictions(reg, m)
        d = lm.manifest["version"]
        assert lm.manifest["algorithm"] == name and d == m["version"]
        files = {a["file"] for a in m["artifacts"].values()}
        assert not any(f.endswith((".pkl", ".pickle", ".joblib")) for f in files)
        assert ("model.txt" in files) == (name == "lightgbm")
        assert 0.5 < m["metrics"]["test"]["auroc"] < 1.0
        assert lm.explain(np.array([100.0, 1.0, 4.0, 150.0, 1.0]))  # has top factors
        assert len(rows) == m["sizes"]["test"]


def test_predictions_after_load_equal_training_predictions(trained: Any) -> None:
    reg, models, d = trained
    fm = extract(Lake(d).connect(), toy_spec())
    for m in models.values():
        rows = _test_predictions(reg, m)
        ids = [int(r["person_id"]) for r in rows]
        pos = {pid: i for i, pid in enumerate(fm.person_ids.tolist())}
        lm = load_model(reg, m["task"], m["version"])
        got = lm.predict(fm.X[[pos[i] for i in ids]])
        assert np.allclose(got, [float(r["predicted"]) for r in rows], atol=1e-5), m["algorithm"]


def test_same_spec_same_data_same_result(trained: Any, tmp_path: Path) -> None:
    reg, models, d = trained
    again = train(
        Lake(d).connect(),
        toy_spec().with_algorithm("lasso", GRIDS["lasso"]),
        Registry(tmp_path),
        trainer="bob",
    )
    first = models["lasso"]
    assert again["snapshot_hash"] == first["snapshot_hash"]
    assert again["metrics"]["test"]["auroc"] == first["metrics"]["test"]["auroc"]
    assert reg.read_artifact(first["task"], first["version"], "model") == Registry(tmp_path).read_artifact(
        "toy_reoperation", 1, "model"
    )


def test_tampered_artifact_is_refused(trained: Any, tmp_path: Path) -> None:
    reg, models, d = trained
    r2 = Registry(tmp_path)
    m = train(Lake(d).connect(), toy_spec(), r2, trainer="alice")
    path = r2.version_dir(m["task"], m["version"]) / "model.json"
    body = json.loads(path.read_text())
    body["intercept"] += 1
    path.write_text(json.dumps(body))
    with pytest.raises(ValidationFailed, match="sha256"):
        load_model(r2, m["task"], m["version"])


def test_model_card_follows_tripod_ai(trained: Any) -> None:
    reg, models, _ = trained
    m = models["lightgbm"]
    md = reg.read_artifact(m["task"], m["version"], "card_md").decode()
    card = json.loads(reg.read_artifact(m["task"], m["version"], "card_json"))
    assert "TRIPOD+AI" in md and "AUROC (95% CI)" in md and m["snapshot_hash"] in md
    for section in (
        "participants",
        "outcome",
        "predictors",
        "missing_data",
        "analysis",
        "performance",
        "reproducibility",
    ):
        assert card[section]
    assert card["missing_data"]["imputation"].startswith("training median")


def test_time_split_tests_on_the_latest_patients(
    toy_lake: tuple[Path, dict[int, float]], tmp_path: Path
) -> None:
    from medlake.models.train import split_rows

    d, _ = toy_lake
    spec = toy_spec(split={"method": "time", "test_fraction": 0.2, "validation_fraction": 0.1, "folds": 3})
    fm = extract(Lake(d).connect(), spec)
    sets = split_rows(fm, spec)
    assert fm.index_ts[sets["train"]].max() <= fm.index_ts[sets["validation"]].min()
    assert fm.index_ts[sets["validation"]].max() <= fm.index_ts[sets["test"]].min()
    assert sum(len(v) for v in sets.values()) == fm.n


def test_stages_and_steward_publishing(trained: Any, tmp_path: Path) -> None:
    _, _, d = trained
    reg = Registry(tmp_path)
    con = Lake(d).connect()
    v1 = train(con, toy_spec(), reg, trainer="alice")["version"]
    v2 = train(con, toy_spec(), reg, trainer="alice")["version"]
    users = StaticDirectory({"alice": {"steward"}, "sam": {"steward"}, "rita": {"researcher"}})
    task = "toy_reoperation"
    with pytest.raises(ValidationFailed, match="cannot become published"):
        reg.transition(task, v1, "published", by="sam", users=users)
    reg.transition(task, v1, "validated", by="alice")
    with pytest.raises(PermissionDenied, match="not a data steward"):
        reg.transition(task, v1, "published", by="rita", users=users)
    with pytest.raises(PermissionDenied, match="other than its trainer"):
        reg.transition(task, v1, "published", by="alice", users=users)
    assert reg.transition(task, v1, "published", by="sam", users=users)["published_by"] == "sam"
    reg.transition(task, v2, "validated", by="alice")
    reg.transition(task, v2, "published", by="sam", users=users, note="better")
    assert [m["stage"] for m in reg.entries()] == ["retired", "published"]
    assert reg.manifest(task, v1)["history"][-1]["note"] == "superseded by v2"
    assert [m["version"] for m in reg.published()] == [v2]
    with pytest.raises(NotFound):
        reg.manifest(task, 99)
    with pytest.raises(ValidationFailed):
        reg.version_dir("../etc", 1)


def test_registry_state_changes_with_stages_and_versions(trained: Any) -> None:
    reg, models, _ = trained
    before = reg.state()
    assert before == reg.state() and len(before) == len(reg.entries())
    m = models["ridge"]
    reg.transition(m["task"], m["version"], "retired", by="alice")
    after = reg.state()
    assert after != before and len(after) == len(before)
