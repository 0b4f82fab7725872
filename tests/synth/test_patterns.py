"""Clinical patterns: cohort sizes, true-risk models, consistency between LIS and pathology."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from medlake.errors import ValidationFailed, VocabularyError
from medlake.synth import SynthConfig, SynthSummary
from medlake.synth.clinical.risk import burn_shock_risk, tapvc_reoperation_risk
from medlake.synth.people import make_people
from medlake.synth.vocab import load_vocab, read_table


def test_cohorts_are_big_enough_at_10k() -> None:
    vocab = load_vocab()
    people = []
    for chunk in range(5):
        people += make_people(vocab, 42, chunk, chunk * 2000, 2000, date(2018, 1, 1), date(2025, 12, 31))
    counts = Counter(p.pattern for p in people)
    assert counts["tapvc"] >= 420 and counts["burn"] >= 620
    assert counts["breast_cancer"] > 500 and counts["ordinary"] > 5000
    assert all(p.sex == "2" for p in people if p.pattern in ("breast_cancer", "cervical_cancer"))
    assert all((p.index_date - p.birth).days < 730 for p in people if p.pattern == "tapvc")


def test_risk_models_move_with_their_features() -> None:
    base = tapvc_reoperation_risk(40, 4.0, False, 110, "心上型", 2.0)
    assert 0.05 < base < 0.3
    assert tapvc_reoperation_risk(40, 4.0, True, 110, "心上型", 2.0) > base
    assert tapvc_reoperation_risk(40, 4.0, False, 160, "心上型", 2.0) > base
    assert tapvc_reoperation_risk(40, 3.0, False, 110, "心下型", 2.0) > base
    b = burn_shock_risk(20, 40, False, 2.0, 2.0)
    assert burn_shock_risk(50, 40, False, 2.0, 2.0) > b
    assert burn_shock_risk(20, 70, True, 6.0, 4.0) > b


def test_outcomes_file(hospital: tuple[Path, SynthSummary]) -> None:
    rows = list(
        csv.DictReader(io.StringIO((hospital[0] / "truth" / "outcomes.csv").read_text(encoding="utf-8")))
    )
    assert rows
    for r in rows:
        assert r["task"] in ("tapvc_reoperation", "burn_shock")
        assert 0.0 < float(r["true_risk"]) < 1.0 and r["outcome"] in ("0", "1")
        assert r["his_patient_id"].startswith("H")


def test_outcome_recorded_in_his(hospital: tuple[Path, SynthSummary]) -> None:
    out = hospital[0]
    outcomes = list(csv.DictReader(io.StringIO((out / "truth" / "outcomes.csv").read_text(encoding="utf-8"))))
    dx = list(csv.reader(io.StringIO((out / "his" / "diagnoses.csv").read_text(encoding="gbk"))))[1:]
    by_patient: dict[str, set[str]] = {}
    for row in dx:
        by_patient.setdefault(row[2], set()).add(row[3])
    for o in outcomes:
        codes = by_patient[o["his_patient_id"]]
        marker = "T79.401" if o["task"] == "burn_shock" else "I28.801"
        assert (marker in codes) == (o["outcome"] == "1")


def test_breast_receptors_agree_between_lis_and_pathology(
    hospital: tuple[Path, SynthSummary], notes: list[dict[str, object]]
) -> None:
    out = hospital[0]
    lis_er: dict[str, str] = {}
    for f in (out / "lis").glob("*.hl7"):
        visit = ""
        for seg in f.read_bytes().decode("utf-8").split("\r"):
            if seg.startswith("PV1|"):
                visit = seg.split("|")[19]
            if seg.startswith("OBX|") and "^雌激素受体(IHC)^" in seg and visit:
                lis_er[visit] = seg.split("|")[5]
    reports = [n for n in notes if n["doc_type"] == "病理报告" and "ER（" in str(n["text"])]
    checked = 0
    for n in reports:
        if str(n["visit_no"]) in lis_er:
            positive = "ER（+" in str(n["text"])
            assert lis_er[str(n["visit_no"])].startswith("阳性") == positive
            checked += 1
    assert checked or not reports


def test_config_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed):
        SynthConfig(patients=0, seed=1, out=tmp_path)
    with pytest.raises(ValidationFailed):
        SynthConfig(patients=1, seed=1, out=tmp_path, start_date=date(2020, 1, 1), end_date=date(2020, 3, 1))
    with pytest.raises(ValidationFailed):
        SynthConfig(patients=1, seed=1, out=tmp_path, xlsx_engine="csv")
    assert SynthConfig(patients=2000, seed=1, out=tmp_path).dicom_cap == 333


def test_vocab_files_are_parsed_strictly() -> None:
    with pytest.raises(VocabularyError):
        read_table("nonexistent.tsv")
    assert read_table("departments.tsv")[0] == ("0101", "呼吸内科")
