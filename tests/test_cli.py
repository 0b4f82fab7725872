"""The ``medlake`` command end to end, as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.ingest.his_fixtures import write_hospital

MEDLAKE = [sys.executable, "-m", "medlake.cli"]


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*MEDLAKE, *args], capture_output=True, text=True, check=check, env=env)


def test_ingest_then_stats_json(tmp_path: Path) -> None:
    src = write_hospital(tmp_path / "src")
    d = tmp_path / "data"
    _run("ingest", str(src), "--data-dir", str(d), "--quiet")
    stats = json.loads(_run("stats", "--data-dir", str(d), "--json").stdout)
    assert stats["tables"]["person"] == 3 and stats["tables"]["note"] == 2 and stats["quarantine"] == 0
    again = _run("ingest", str(src), "--data-dir", str(d), "--json")
    assert json.loads(again.stdout)["totals"]["files_unchanged"] == 8
    assert json.loads(_run("stats", "--data-dir", str(d), "--json").stdout) == stats


def test_errors_are_one_line_with_code_and_hint(tmp_path: Path) -> None:
    r = _run("ingest", str(tmp_path / "missing"), "--data-dir", str(tmp_path / "d"), check=False)
    assert r.returncode == 2
    assert "error[ML200]" in r.stderr and "hint:" in r.stderr
    assert "Traceback" not in r.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name\nA00\n", encoding="utf-8")
    r = _run("vocab", "load", str(bad), "--data-dir", str(tmp_path / "d"), check=False)
    assert r.returncode == 2 and "line 2: expected 2 fields" in r.stderr


def test_config_masks_secrets(tmp_path: Path) -> None:
    env_secret = "never-print-this-secret"
    r = subprocess.run(
        [*MEDLAKE, "config"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MEDLAKE_SECRET_KEY": env_secret},
    )
    assert env_secret not in r.stdout and json.loads(r.stdout)["secret_key"] == "********"
