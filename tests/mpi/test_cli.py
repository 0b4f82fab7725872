"""The ``medlake mpi`` commands end to end on a small noisy hospital."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from medlake.cdm.lake import Lake
from medlake.cli import mpi_cmds

from .conftest import person, write_batch, write_truth


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)
    mpi_cmds.register(app)
    return app


def test_link_eval_review_decide(
    lake: Lake, noisy_small: tuple[list[dict[str, Any]], list[dict[str, str]]], tmp_path: Path
) -> None:
    rows, truth = noisy_small
    write_batch(lake, "noisy", rows)
    # one pair that only shares a name and a birth year: neither sure nor impossible
    write_batch(
        lake,
        "b1",
        [person("HIS", "H1", "周杰", date(1980, 5, 5)), person("LIS", "L1", "周杰", date(1980, 5, 23))],
    )
    truth_file = write_truth(tmp_path / "identity.csv", truth)
    runner = CliRunner()
    app = _app()
    d = str(lake.root)
    res = runner.invoke(
        app, ["mpi", "link", "--data-dir", d, "--threshold", "0.99", "--review-threshold", "0.2", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["link"]["records"] == len(truth) + 2 and out["apply"]["rows_remapped"] > 0

    res = runner.invoke(app, ["mpi", "eval", "--truth", str(truth_file), "--data-dir", d, "--json"])
    assert res.exit_code == 0, res.output
    ev = json.loads(res.output)
    assert {"precision", "recall", "f1", "pairs"} <= set(ev) and ev["f1"] >= 0.98

    res = runner.invoke(app, ["mpi", "review", "--data-dir", d, "--json"])
    assert res.exit_code == 0, res.output
    queue = json.loads(res.output)
    res = runner.invoke(app, ["mpi", "review", "--data-dir", d])
    assert res.exit_code == 0
    names = {r["name"] for r in rows}
    assert not any(n in res.output for n in names if len(n) > 1)  # masked by default
    assert queue, "the noisy set has uncertain pairs at these thresholds"
    pid = queue[0]["pair_id"]
    res = runner.invoke(app, ["mpi", "decide", pid, "--no-match", "--data-dir", d, "--by", "tester"])
    assert res.exit_code == 0, res.output
    assert lake.count("mpi_decision") == 1
    res = runner.invoke(app, ["mpi", "review", "--data-dir", d, "--json"])
    assert pid not in {p["pair_id"] for p in json.loads(res.output)}

    res = runner.invoke(
        app, ["mpi", "link", "--data-dir", d, "--threshold", "0.3", "--review-threshold", "0.5"]
    )
    assert res.exit_code != 0
