"""LIS HL7 batches parse with the ``hl7`` package, DICOM reads with pydicom, FHIR bundles validate (R4B)."""

from __future__ import annotations

import json
from pathlib import Path

import hl7
import pydicom
from fhir.resources.R4B.bundle import Bundle
from pydicom.uid import ExplicitVRLittleEndian

from medlake.synth import SynthSummary
from medlake.synth.writers.lis import escape


def _messages(path: Path) -> list[str]:
    text = path.read_bytes().decode("utf-8")
    assert "\n" not in text
    segments = [s for s in text.split("\r") if s]
    assert segments[0].startswith("FHS|") and segments[1].startswith("BHS|")
    assert segments[-2].startswith("BTS|") and segments[-1] == "FTS|1"
    msgs: list[list[str]] = []
    for seg in segments[2:-2]:
        if seg.startswith("MSH|"):
            msgs.append([])
        msgs[-1].append(seg)
    assert int(segments[-2].split("|")[1]) == len(msgs)
    return ["\r".join(m) for m in msgs]


def test_hl7_batches_parse(hospital: tuple[Path, SynthSummary]) -> None:
    out, summary = hospital
    files = sorted((out / "lis").glob("ORU_*.hl7"))
    assert len(files) == summary.lis_files > 0
    n_msgs = 0
    units = set()
    for f in files:
        for raw in _messages(f):
            msg = hl7.parse(raw)
            n_msgs += 1
            assert str(msg.segment("MSH")[9]) == "ORU^R01^ORU_R01"
            pid = msg.segment("PID")
            assert str(pid[3][0][0]).startswith("L") and str(pid[3][0][3]) == "LIS"
            assert str(pid[8]) in ("M", "F")
            for obx in msg.segments("OBX"):
                assert str(obx[2]) in ("NM", "ST")
                assert str(obx[8]) in ("H", "L", "N", "A")
                units.add(msg.unescape(str(obx[6])))
                if str(obx[2]) == "NM":
                    float(str(obx[5]))
                    low, high = str(obx[7]).split("-")
                    float(low), float(high)
    assert n_msgs == summary.lab_messages
    assert "10^9/L" in units  # escaped as 10\S\9/L on the wire and restored by the parser


def test_hl7_escaping() -> None:
    assert escape("10^9/L") == "10\\S\\9/L"
    assert escape("a|b&c~d\\e") == "a\\F\\b\\T\\c\\R\\d\\E\\e"


def test_dicom_files_read_and_match_reports(
    hospital: tuple[Path, SynthSummary], notes: list[dict[str, object]]
) -> None:
    out, summary = hospital
    files = sorted((out / "pacs").rglob("*.dcm"))
    assert 0 < len(files) == summary.dicom_files <= 40
    accessions = {n["accession_no"] for n in notes if n["doc_type"] == "影像报告"}
    for f in files:
        ds = pydicom.dcmread(f)
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.PatientID.startswith("P")
        assert ds.AccessionNumber in accessions
        assert ds.StudyInstanceUID.startswith("2.25.") and f.parent.name == ds.SeriesInstanceUID
        assert f.parent.parent.name == ds.StudyInstanceUID
        assert ds.Modality in ("CT", "MR", "DX", "US")
        assert ds.pixel_array.shape == (8, 8)
        assert ds.StudyDate and ds.BodyPartExamined


def test_fhir_bundles_validate(hospital: tuple[Path, SynthSummary]) -> None:
    out, summary = hospital
    files = sorted((out / "partner" / "fhir").glob("*.json"))
    assert len(files) == summary.partner_bundles > 0
    for f in files:
        data = json.loads(f.read_text(encoding="utf-8"))
        bundle = Bundle.model_validate(data)
        kinds = [e.resource.__resource_type__ for e in bundle.entry]
        assert kinds[0] == "Patient" and "Encounter" in kinds and "Condition" in kinds
        patient = bundle.entry[0].resource
        assert patient.identifier[0].system == "urn:oid:partner-hospital"
        assert patient.identifier[0].value == f.stem
