"""The DICOM connector on pydicom's bundled real files: series rows, truncation, increments, reports."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pydicom.data import get_testdata_file

from medlake.cdm.ids import stable_id
from medlake.cdm.lake import Lake
from medlake.ingest.base import person_id_for
from medlake.ingest.dicom import DicomConnector
from medlake.ingest.dicom_read import DicomUnreadable, read_instance
from tests.ingest.connector_helpers import rows, run_connector

CT_SERIES = "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"


def pydicom_file(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom test file {name} not installed")
    return Path(str(path))


@pytest.fixture
def pacs(tmp_path: Path) -> Path:
    """A PACS export tree: CT_small, MR_small and the 5-slice CT series, copied into folders."""
    root = tmp_path / "pacs"
    (root / "a").mkdir(parents=True)
    shutil.copy(pydicom_file("CT_small.dcm"), root / "a" / "1.dcm")
    shutil.copy(pydicom_file("MR_small.dcm"), root / "a" / "2.dcm")
    ct5 = pydicom_file("dicomdirtests/98892001/CT5N/2062").parent
    shutil.copytree(ct5, root / "ct5")
    return root


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_detect_by_content(pacs: Path, tmp_path: Path) -> None:
    for f in _files(pacs):
        assert DicomConnector.detect(f, f.read_bytes()[:65536]), f
    no_preamble = tmp_path / "no_preamble.dcm"
    no_preamble.write_bytes(pydicom_file("CT_small.dcm").read_bytes()[132:])
    assert DicomConnector.detect(no_preamble, no_preamble.read_bytes()[:65536])
    assert read_instance(no_preamble).image_series_uid == CT_SERIES
    assert not DicomConnector.detect(tmp_path / "x", b"MSH|^~\\&|")
    assert not DicomConnector.detect(tmp_path / "x", b"\x08\x00garbage" * 20)


def test_pacs_tree_indexes_one_row_per_series(pacs: Path, data_dir: Path) -> None:
    contexts = run_connector(DicomConnector, _files(pacs), data_dir, root=pacs)
    assert [c.stats.rows_quarantined for c in contexts] == [0] * 7
    images = {r["image_series_uid"]: r for r in rows(data_dir, "image_occurrence")}
    assert len(images) == 3
    counts = sorted(r["instance_count"] for r in images.values())
    assert counts == [1, 1, 5]
    ct = images[CT_SERIES]
    assert ct["image_occurrence_id"] == stable_id("image", CT_SERIES)
    assert ct["person_id"] == person_id_for("PACS", "1CT1")
    assert (ct["modality"], ct["image_occurrence_date"]) == ("CT", date(1997, 4, 30))
    assert ct["image_study_uid"] == "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
    assert ct["local_path"] == str((pacs / "a").resolve())
    assert ct["src_system"] == "PACS" and ct["src_record"] == CT_SERIES
    assert {r["modality"] for r in images.values()} == {"CT", "MR"}
    meta = {r["image_series_uid"]: r for r in rows(data_dir, "image_series_meta")}
    assert (meta[CT_SERIES]["rows"], meta[CT_SERIES]["columns"]) == (128, 128)
    assert meta[CT_SERIES]["slice_thickness"] == 5.0
    assert meta[CT_SERIES]["pixel_spacing"] == "0.661468\\0.661468"
    assert (meta[CT_SERIES]["manufacturer"], meta[CT_SERIES]["manufacturer_model"]) == (
        "GE MEDICAL SYSTEMS",
        "RHAPSODE",
    )
    people = {p["src_person_id"]: p for p in rows(data_dir, "source_person")}
    assert people["1CT1"]["name"] == "CompressedSamples CT1"
    assert len(rows(data_dir, "person")) == len(people)


def _truncated(src: Path, dest: Path, keep: int) -> Path:
    dest.write_bytes(src.read_bytes()[:keep])
    return dest


@pytest.mark.parametrize("cut", [-500, 700, 2000])
def test_truncated_copy_is_quarantined(pacs: Path, tmp_path: Path, data_dir: Path, cut: int) -> None:
    ct = pydicom_file("CT_small.dcm")
    keep = len(ct.read_bytes()) + cut if cut < 0 else cut
    bad = _truncated(ct, pacs / "a" / "bad.dcm", keep)
    with pytest.raises(DicomUnreadable):
        read_instance(bad)
    contexts = run_connector(DicomConnector, _files(pacs), data_dir, root=pacs)
    quarantined = [c for c in contexts if c.stats.rows_quarantined]
    assert [c.src.rel for c in quarantined] == ["a/bad.dcm"]
    (q,) = rows(data_dir, "_quarantine")
    assert q["src_record"] == "a/bad.dcm" and q["src_system"] == "PACS"
    assert "truncated" in q["reason"] or "missing" in q["reason"]
    assert len(rows(data_dir, "image_occurrence")) == 3  # the good files still land


def test_pydicoms_own_truncated_file_and_non_dicom(tmp_path: Path) -> None:
    with pytest.raises(DicomUnreadable, match="truncated"):
        read_instance(pydicom_file("MR_truncated.dcm"))
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    with pytest.raises(DicomUnreadable):
        read_instance(junk)


def test_new_folder_touches_nothing_else_and_series_grow(pacs: Path, data_dir: Path) -> None:
    ct5 = sorted((pacs / "ct5").iterdir())
    run_connector(DicomConnector, [*_files(pacs / "a"), *ct5[:2]], data_dir, root=pacs)
    lake = Lake(data_dir)
    parts = {p.name: p for p in lake.parts("image_occurrence")}
    assert len(parts) == 3  # one part per bucket of studies (these three studies hash to three buckets)
    ct_small_part = next(p for p in parts.values() if CT_SERIES in str(pq.read_table(p).to_pylist()))
    before = (ct_small_part.stat().st_mtime_ns, pq.read_table(ct_small_part).to_pylist())
    # the next day's folder holds the rest of the 5-slice series only
    run_connector(DicomConnector, ct5[2:], data_dir, root=pacs)
    assert (ct_small_part.stat().st_mtime_ns, pq.read_table(ct_small_part).to_pylist()) == before
    counts = sorted(r["instance_count"] for r in rows(data_dir, "image_occurrence"))
    assert counts == [1, 1, 5]
    # re-ingesting the same files changes nothing
    run_connector(DicomConnector, ct5, data_dir, root=pacs)
    assert sorted(r["instance_count"] for r in rows(data_dir, "image_occurrence")) == [1, 1, 5]


def test_reports_link_by_accession_number(tmp_path: Path, data_dir: Path) -> None:
    import pydicom

    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    ds.AccessionNumber = "ACC0001"
    ds.PatientID = "P0000123"
    ds.PatientName = "张^三"
    ds.SpecificCharacterSet = "ISO_IR 192"
    f = tmp_path / "ct.dcm"
    ds.save_as(f)
    lake = Lake(data_dir)
    lake.ensure()
    with lake.transaction() as tx:
        report = {
            "note_id": 42,
            "person_id": 1,
            "note_source_value": "影像报告",
            "accession_number": "ACC0001",
        }
        tx.write("note", "emr-test", [dict(report, note_text="双肺清晰", visit_occurrence_id=7)])
    run_connector(DicomConnector, f, data_dir)
    (img,) = rows(data_dir, "image_occurrence")
    assert (img["accession_number"], img["note_id"], img["visit_occurrence_id"]) == ("ACC0001", 42, 7)
    assert img["person_id"] == person_id_for("PACS", "P0000123")
    (sp,) = rows(data_dir, "source_person")
    assert (sp["src_system"], sp["name"]) == ("PACS", "张三")
