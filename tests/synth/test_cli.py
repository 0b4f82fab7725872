"""``medlake synth`` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from medlake.cli import get_app


def test_synth_command_json(tmp_path: Path) -> None:
    out = tmp_path / "h"
    result = CliRunner().invoke(
        get_app(),
        ["synth", "--patients", "12", "--seed", "4", "--out", str(out), "--max-dicom-files", "5", "--json"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["patients"] == 12 and summary["dicom_files"] <= 5
    assert (out / "his" / "patients.csv").exists() and (out / "gold" / "notes_gold.jsonl").exists()


def test_synth_rejects_bad_dates(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        get_app(), ["synth", "-n", "3", "-o", str(tmp_path), "--start-date", "2020/01/01"]
    )
    assert result.exit_code != 0
