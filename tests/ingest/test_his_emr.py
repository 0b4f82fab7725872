from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from medlake.cdm import Lake, stable_id
from medlake.ingest import his
from medlake.ingest.base import person_id_for
from medlake.ingest.runner import ingest_path
from tests.ingest.his_fixtures import write_broken_patients, write_hospital


def _counts(lake: Lake) -> dict[str, int]:
    return {k: v for k, v in lake.counts().items() if not k.startswith("_raw")}


def test_hospital_lands_in_every_table(tmp_path: Path, data_dir: Path) -> None:
    src = write_hospital(tmp_path / "src")
    lake = Lake(data_dir)
    report = ingest_path(lake, src, show_progress=False)
    assert {f.status for f in report.files} == {"new"}
    c = lake.counts()
    assert c["person"] == 3 and c["source_person"] == 3
    assert c["visit_occurrence"] == 3 and c["condition_occurrence"] == 3
    assert c["drug_exposure"] == 3  # two orders (Excel) + one administration
    assert c["procedure_occurrence"] == 1 and c["note"] == 2 and c["care_site"] == 3
    assert c["observation_period"] == 3 and c["_quarantine"] == 0
    con = lake.connect()
    # GBK text decoded, ids stable, visit linked, concepts local
    dept, vtype = con.execute(
        "SELECT c.care_site_name, v.visit_source_value FROM visit_occurrence v JOIN care_site c USING (care_site_id) "
        "WHERE v.visit_occurrence_id = ?",
        [stable_id("visit", "HIS|V3")],
    ).fetchone() or (None, None)
    assert (dept, vtype) == ("急诊科", "急诊")
    row = con.execute(
        "SELECT person_id, condition_source_concept_id, visit_occurrence_id, src_system, src_record "
        "FROM condition_occurrence WHERE condition_source_value = 'E11.900'"
    ).fetchone()
    assert row is not None
    assert row[0] == person_id_for("HIS", "H002") and row[1] >= 2_000_000_000
    assert row[2] == stable_id("visit", "HIS|V2") and row[3] == "HIS" and row[4] == "line 3"
    assert con.execute("SELECT concept_name FROM concept WHERE concept_code='E11.900'").fetchone() == (
        "2型糖尿病",
    )
    assert con.execute(
        "SELECT quantity, sig FROM drug_exposure WHERE drug_source_value='YP002'"
    ).fetchone() == (0.5, "bid")
    gender = dict(con.execute("SELECT person_source_value, gender_concept_id FROM person").fetchall())
    assert gender == {"H001": 8507, "H002": 8532, "H003": 8532}
    note = con.execute(
        "SELECT note_source_value, accession_number, person_id FROM note WHERE accession_number IS NOT NULL"
    ).fetchone()
    assert note == ("影像报告", "ACC0001", person_id_for("HIS", "H003"))
    # every input file is in the raw zone under its sha256
    for f in report.files:
        assert f.sha256 and (lake.raw_dir / f.sha256[:2] / f.sha256).exists()
    run_file = lake.root / "runs" / f"{report.run_id}.json"
    assert json.loads(run_file.read_text())["totals"]["files_new"] == 8


def test_reingest_changes_nothing_and_changed_file_is_a_new_version(tmp_path: Path, data_dir: Path) -> None:
    src = write_hospital(tmp_path / "src")
    lake = Lake(data_dir)
    ingest_path(lake, src, show_progress=False)
    before = _counts(lake)
    again = ingest_path(lake, src, show_progress=False)
    assert {f.status for f in again.files} == {"unchanged"}
    assert _counts(lake) == before
    # the HIS re-exports visits with one more row: a new version replaces the old one's rows
    visits = src / "his" / "visits.csv"
    visits.write_bytes(
        visits.read_bytes() + "V4,H001,门诊,D02,内分泌科,2023-01-01 09:00:00,,\n".encode("gbk")
    )
    third = ingest_path(lake, src, show_progress=False)
    changed = [f for f in third.files if f.status == "changed"]
    assert [f.path for f in changed] == ["his/visits.csv"]
    assert lake.count("visit_occurrence") == before["visit_occurrence"] + 1
    assert lake.count("_raw_file") == 9  # 8 files + 1 new version (manifest keeps history)
    versions = (
        lake.connect()
        .execute("SELECT version FROM _raw_file WHERE source_path='his/visits.csv' ORDER BY version")
        .fetchall()
    )
    assert versions == [(1,), (2,)]


def test_broken_rows_are_quarantined_and_good_rows_land(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    write_broken_patients(src / "patients.csv")
    lake = Lake(data_dir)
    report = ingest_path(lake, src, show_progress=False)
    (f,) = report.files
    assert f.kind == "his" and f.rows_read == 6 and f.rows_quarantined == 4
    assert sorted(
        r[0] for r in lake.connect().execute("SELECT person_source_value FROM person").fetchall()
    ) == ["H100", "H105"]
    reasons = dict(lake.connect().execute("SELECT src_record, reason FROM _quarantine").fetchall())
    assert reasons["line 3 (patient_id=H101)"] == "bad date in 出生日期: '1960-02-30'"
    assert reasons["line 4"] == "expected 8 fields, found 9"
    assert "check digit" in reasons["line 5 (patient_id=H103)"]
    assert reasons["line 6"].startswith("undecodable bytes as gb18030")
    raw = (
        lake.connect()
        .execute("SELECT raw, source_path FROM _quarantine WHERE src_record='line 4'")
        .fetchone()
    )
    assert raw is not None and "多余" in raw[0] and raw[1] == "patients.csv"


def test_bad_note_lines_are_quarantined(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    good = {
        "doc_id": "N1",
        "patient_id": "H1",
        "doc_type": "病程记录",
        "doc_time": "2021-01-01 08:00:00",
        "text": "无发热。",
    }
    lines = [
        json.dumps(good, ensure_ascii=False),
        '{"doc_id": "N2", "patient_id": "H1", "doc_type": "病程记录", "doc_time": "2021-13-01", "text": "x"}',
        '{"doc_id": "N3", "patient_id": "H1", "doc_type": "病程记录", "doc_time": "2021-01-02", "text": ""}',
        "{not json",
    ]
    (src / "notes.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lake = Lake(data_dir)
    ingest_path(lake, src, show_progress=False)
    assert lake.count("note") == 1
    reasons = [
        r[0] for r in lake.connect().execute("SELECT reason FROM _quarantine ORDER BY src_record").fetchall()
    ]
    assert len(reasons) == 3
    assert any("bad date/time" in r for r in reasons) and any("missing text" in r for r in reasons)
    assert any(r.startswith("not valid JSON") for r in reasons)


def test_unrecognised_files_are_reported_not_ingested(tmp_path: Path, data_dir: Path) -> None:
    src = write_hospital(tmp_path / "src")
    (src / "readme.txt").write_text("not a source", encoding="utf-8")
    shutil.copy(src / "his" / "departments.csv", src / "copy-of-departments.csv")
    report = ingest_path(Lake(data_dir), src, show_progress=False)
    status = {f.path: f.status for f in report.files}
    assert status["readme.txt"] == "unrecognised"
    # identical bytes under another name are the same raw file: not landed twice
    assert sorted([status["copy-of-departments.csv"], status["his/departments.csv"]]) == ["new", "unchanged"]
    assert Lake(data_dir).count("care_site") == 3


def test_rows_staged_in_batches_land_the_same(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_hospital(tmp_path / "src")
    whole = Lake(tmp_path / "whole")
    ingest_path(whole, src, show_progress=False, link_persons=False)
    monkeypatch.setattr(his, "STAGE_BATCH", 1)  # every row its own Arrow batch
    batched = Lake(data_dir)
    ingest_path(batched, src, show_progress=False, link_persons=False)
    for table in ("person", "visit_occurrence", "condition_occurrence", "drug_exposure", "concept"):
        a = sorted(map(str, whole.read(table).to_pylist()))
        b = sorted(map(str, batched.read(table).to_pylist()))
        assert a == b and a, table
