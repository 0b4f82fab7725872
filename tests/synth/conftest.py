"""One small synthetic hospital per test session (60 patients), shared by the synth tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medlake.synth import SynthConfig, SynthSummary, generate

N_PATIENTS = 60
SEED = 11


@pytest.fixture(scope="session")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    out = tmp_path_factory.mktemp("synth") / "hospital"
    summary = generate(
        SynthConfig(patients=N_PATIENTS, seed=SEED, out=out, max_dicom_files=40, partner_fraction=0.2)
    )
    return out, summary


@pytest.fixture(scope="session")
def notes(hospital: tuple[Path, SynthSummary]) -> list[dict[str, object]]:
    out, _ = hospital
    return [
        json.loads(line)
        for f in sorted((out / "emr").glob("notes-*.jsonl"))
        for line in f.open(encoding="utf-8")
    ]


@pytest.fixture(scope="session")
def gold(hospital: tuple[Path, SynthSummary]) -> dict[str, dict[str, object]]:
    out, _ = hospital
    rows = [json.loads(line) for line in (out / "gold" / "notes_gold.jsonl").open(encoding="utf-8")]
    return {str(r["doc_id"]): r for r in rows}
