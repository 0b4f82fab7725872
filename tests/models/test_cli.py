"""`medlake model ...` end to end on the toy lake: train, list, evaluate, validate, publish, retire, monitor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medlake.cli import get_app
from medlake.models.toylake import TOY_TASK, build_toy_lake
from medlake.settings import Settings


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    build_toy_lake(d, n=300, seed=3)
    monkeypatch.setenv("MEDLAKE_DATA_DIR", str(d))
    monkeypatch.delenv("MEDLAKE_DATABASE_URL", raising=False)
    from medlake.store import User, session_scope, upgrade

    settings = Settings(data_dir=d)
    upgrade(settings)
    with session_scope(settings) as s:
        s.add_all(
            [
                User(username="sam", role="steward", password_hash="!"),
                User(username="rita", role="researcher", password_hash="!"),
            ]
        )
    return d


def _run(*args: str) -> str:
    result = CliRunner().invoke(get_app(), list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_model_lifecycle_from_the_cli(lake: Path, tmp_path: Path) -> None:
    task = tmp_path / "task.json"
    task.write_text(json.dumps(TOY_TASK), encoding="utf-8")
    out = _run("model", "train", str(task), "-a", "lasso", "-a", "lightgbm", "--by", "rita", "--json")
    trained = json.loads(out[out.index("[") :])
    assert [(m["version"], m["algorithm"], m["stage"]) for m in trained] == [
        (1, "lasso", "draft"),
        (2, "lightgbm", "draft"),
    ]
    assert trained[0]["snapshot_hash"] == trained[1]["snapshot_hash"]  # same data for both
    listed = json.loads(_run("model", "list", "--json"))
    assert [m["version"] for m in listed] == [1, 2] and all(m["test_auroc"] > 0.5 for m in listed)
    compare = _run("model", "evaluate", "toy_reoperation")
    assert "| toy_reoperation | v1 | lasso | draft |" in compare
    assert "TRIPOD+AI" in _run("model", "evaluate", "toy_reoperation", "-v", "2")
    _run("model", "validate", "toy_reoperation", "2", "--by", "rita")

    runner = CliRunner()
    refused = runner.invoke(get_app(), ["model", "publish", "toy_reoperation", "2", "--by", "rita"])
    assert refused.exit_code != 0 and "not a data steward" in str(refused.exception)
    assert "now published" in _run("model", "publish", "toy_reoperation", "2", "--by", "sam")
    assert [m["stage"] for m in json.loads(_run("model", "list", "--json"))] == ["draft", "published"]

    report = json.loads(_run("model", "monitor", "toy_reoperation", "--since", "2000-01-01", "--json"))
    assert report["performance"]["n"] == 300 and report["use"]["cards"] == 0
    assert report["drift_psi"]["weight_kg"] < 0.1  # same population as training

    retrained = _run("model", "retrain", "toy_reoperation", "--by", "rita")
    assert "v3 (draft, from v2)" in retrained
    assert "now retired" in _run("model", "retire", "toy_reoperation", "2", "--by", "sam")

    from medlake.audit import verify

    result = verify(Settings(data_dir=lake))
    assert result.ok and result.entries == 3  # validate, publish, retire: each audited
