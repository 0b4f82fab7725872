"""Same patients and seed give byte-identical output; another seed gives other patients."""

from __future__ import annotations

import hashlib
from pathlib import Path

from medlake.synth import SynthConfig, SynthSummary, generate


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_two_runs_are_byte_identical(tmp_path: Path) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    generate(SynthConfig(patients=25, seed=5, out=a, max_dicom_files=20, partner_fraction=0.2))
    generate(SynthConfig(patients=25, seed=5, out=b, max_dicom_files=20, partner_fraction=0.2))
    da, db = _digests(a), _digests(b)
    assert len(da) > 20
    assert da == db


def test_another_seed_gives_other_patients(tmp_path: Path, hospital: tuple[Path, SynthSummary]) -> None:
    out, _ = hospital
    other = tmp_path / "other"
    generate(SynthConfig(patients=10, seed=12, out=other, max_dicom_files=0))
    mine = (out / "his" / "patients.csv").read_text(encoding="utf-8-sig").splitlines()[1:11]
    theirs = (other / "his" / "patients.csv").read_text(encoding="utf-8-sig").splitlines()[1:]
    assert [r.split(",")[1] for r in mine] != [r.split(",")[1] for r in theirs]


def test_rerun_replaces_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "h"
    generate(SynthConfig(patients=30, seed=1, out=out, max_dicom_files=10))
    generate(SynthConfig(patients=5, seed=1, out=out, max_dicom_files=0))
    rows = (out / "his" / "patients.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == 6
    assert not list((out / "pacs").rglob("*.dcm"))


def test_output_does_not_depend_on_workers(tmp_path: Path) -> None:
    """Chunks built in two worker processes are appended exactly as one process builds them."""
    a = tmp_path / "one"
    b = tmp_path / "two"
    generate(SynthConfig(patients=24, seed=9, out=a, chunk_size=6, max_dicom_files=12, partner_fraction=0.2))
    summary = generate(
        SynthConfig(patients=24, seed=9, out=b, chunk_size=6, max_dicom_files=12, partner_fraction=0.2),
        workers=2,
    )
    assert summary.patients == 24 and summary.dicom_files <= 12
    assert _digests(a) == _digests(b)
