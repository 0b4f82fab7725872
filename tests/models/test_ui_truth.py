"""Tasks trained from the web UI on a synthetic hospital match the generator's true risk model.

A small hospital is generated and loaded with the real commands (``medlake synth``, ``medlake
ingest``, ``medlake mpi link``), the web app is served over HTTP, a researcher logs in and posts
the shipped TAPVC and burn-shock task files through the task editor's form (``POST /models/new``),
and each version's test predictions are compared, on the same test patients, with the true risk
from ``truth/outcomes.csv``. With 2,500 patients the test sets hold only ~40-50 patients (an AUROC
standard error near 0.07), so the bound here is 0.05; the 0.03 target is measured on 10,000
patients by ``benchmarks/models_truth.py --via both``.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from argon2 import PasswordHasher
from sklearn.metrics import roc_auc_score

from medlake.settings import Settings
from tests.browser_support import live_server

TASKS = Path(__file__).resolve().parents[2] / "src" / "medlake" / "models" / "tasks"
PASSWORD = "demo-password-1"
BOUND = 0.05


@dataclass
class Hospital:
    source: Path
    data_dir: Path
    url: str


def _medlake(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "medlake.cli", *args], capture_output=True, text=True)
    assert done.returncode == 0, f"medlake {args[0]} failed: {done.stderr[-2000:]}"


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hospital]:
    from medlake.store.engine import dispose_engine
    from medlake.web import passwords
    from medlake.web.app import create_app
    from medlake.web.services.demo import create_demo_accounts

    root = tmp_path_factory.mktemp("uitruth")
    source, data_dir = root / "hospital", root / "data"
    _medlake("synth", "--patients", "2500", "--seed", "8", "--out", str(source), "--max-dicom-files", "10")
    _medlake("ingest", str(source), "--data-dir", str(data_dir), "-q")
    _medlake("mpi", "link", "--data-dir", str(data_dir))
    mp = pytest.MonkeyPatch()  # cheap Argon2id, as in tests/web/conftest.py
    mp.setattr(passwords, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    passwords._dummy_hash.cache_clear()
    settings = Settings(data_dir=data_dir, env="test")
    create_demo_accounts(settings, password=PASSWORD)
    with live_server(create_app(settings)) as url:
        yield Hospital(source, data_dir, url)
    mp.undo()
    passwords._dummy_hash.cache_clear()
    dispose_engine(settings)


def _train_from_the_editor(h: Hospital, task: str, algorithm: str) -> dict[str, Any]:
    from medlake.models.registry import Registry

    with httpx.Client(base_url=h.url, timeout=600) as client:
        r = client.post("/api/v1/session", json={"username": "researcher", "password": PASSWORD})
        assert r.status_code == 200, r.text
        csrf = r.json()["csrf_token"]
        editor = client.get("/models/new")
        for _ in range(50):  # the login's session row may be committed just after its response
            if editor.status_code == 200:
                break
            time.sleep(0.1)
            editor = client.get("/models/new")
        assert task in editor.text  # the editor offers the shipped task
        r = client.post(
            "/models/new",
            data={
                "csrf_token": csrf,
                "task_json": (TASKS / f"{task}.json").read_text(encoding="utf-8"),
                "algorithm": algorithm,
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text[:500]
        page = client.get(r.headers["location"])
        assert page.status_code == 200 and algorithm in page.text
    name, _, version = r.headers["location"].removeprefix("/models/").partition("/v")
    manifest: dict[str, Any] = Registry(h.data_dir).manifest(name, int(version))
    return manifest


def _his_ids(data_dir: Path) -> dict[int, str]:
    from medlake.cdm.lake import Lake

    rows = (
        Lake(data_dir)
        .connect()
        .execute(
            "SELECT person_id, src_person_id FROM person_link WHERE src_system = 'HIS' "
            "UNION ALL SELECT person_id, person_source_value FROM person WHERE person_source_value LIKE 'H%'"
        )
        .fetchall()
    )
    return {int(p): str(s) for p, s in rows}


def _test_predictions(data_dir: Path, m: dict[str, Any]) -> list[dict[str, str]]:
    from medlake.models.registry import Registry

    text = Registry(data_dir).read_artifact(m["task"], m["version"], "test_predictions").decode()
    return list(csv.DictReader(text.splitlines()))


@pytest.mark.parametrize("task", ["tapvc_reoperation", "burn_shock"])
@pytest.mark.parametrize("algorithm", ["lasso", "lightgbm"])
def test_ui_trained_model_is_near_the_true_risk(hospital: Hospital, task: str, algorithm: str) -> None:
    m = _train_from_the_editor(hospital, task, algorithm)
    assert m["algorithm"] == algorithm and m["trainer"] == "researcher" and m["stage"] == "draft"
    with open(hospital.source / "truth" / "outcomes.csv", encoding="utf-8") as fh:
        risks = {r["his_patient_id"]: float(r["true_risk"]) for r in csv.DictReader(fh) if r["task"] == task}
    ids = _his_ids(hospital.data_dir)
    rows = _test_predictions(hospital.data_dir, m)
    matched = [r for r in rows if ids.get(int(r["person_id"])) in risks]
    assert len(matched) == len(rows) >= 30  # every test patient is one the generator modelled
    y = np.array([int(r["outcome"]) for r in matched])
    assert 5 <= y.sum() <= len(y) - 5
    model = roc_auc_score(y, [float(r["predicted"]) for r in matched])
    true = roc_auc_score(y, [risks[ids[int(r["person_id"])]] for r in matched])
    assert true > 0.7  # the outcome carries signal on these patients
    assert abs(model - true) <= BOUND, (task, algorithm, round(model, 3), round(true, 3))


def test_the_editor_and_the_cli_train_the_same_model(hospital: Hospital) -> None:
    from typer.testing import CliRunner

    from medlake.cli import get_app

    ui = _train_from_the_editor(hospital, "burn_shock", "lasso")
    result = CliRunner().invoke(
        get_app(),
        [
            "model",
            "train",
            str(TASKS / "burn_shock.json"),
            "-a",
            "lasso",
            "--by",
            "researcher",
            "--json",
            "--data-dir",
            str(hospital.data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    from medlake.models.registry import Registry

    version = json.loads(result.output[result.output.index("[") :])[0]["version"]
    cli = Registry(hospital.data_dir).manifest("burn_shock", version)
    assert cli["version"] != ui["version"] and cli["snapshot_hash"] == ui["snapshot_hash"]
    assert cli["params"] == ui["params"]
    assert _test_predictions(hospital.data_dir, cli) == _test_predictions(hospital.data_dir, ui)
