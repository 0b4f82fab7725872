"""The LIS, PACS and partner connectors on the synthetic hospital's own files (``medlake.synth``)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from medlake.ingest.base import person_id_for
from medlake.ingest.dicom import DicomConnector
from medlake.ingest.fhir import FhirConnector
from medlake.ingest.hl7v2 import HL7v2Connector
from medlake.synth import SynthConfig, generate
from tests.ingest.connector_helpers import rows, run_connector


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "hospital"
    generate(SynthConfig(patients=20, seed=7, out=out, partner_fraction=0.5))
    return out


def _truth(hospital: Path, system: str) -> set[str]:
    with (hospital / "truth" / "identity.csv").open(encoding="utf-8") as fh:
        return {r["local_id"] for r in csv.DictReader(fh) if r["system"] == system}


def test_lis_batches(hospital: Path, data_dir: Path) -> None:
    files = sorted((hospital / "lis").glob("*.hl7"))
    assert files and all(HL7v2Connector.detect(f, f.read_bytes()[:65536]) for f in files)
    contexts = run_connector(HL7v2Connector, files, data_dir)
    text = "\n".join(f.read_text(encoding="utf-8-sig") for f in files)
    segments = re.split(r"\r\n|\r|\n", text)
    n_obx = sum(s.startswith("OBX|") for s in segments)
    n_msh = sum(s.startswith("MSH|") for s in segments)
    assert sum(c.stats.rows_read for c in contexts) == n_msh
    assert sum(c.stats.by_type.get("ORU^R01", {}).get("mapped", 0) for c in contexts) == n_msh
    meas = rows(data_dir, "measurement")
    assert len(meas) == n_obx
    assert sum(m["value_as_number"] is not None for m in meas) > 0.9 * n_obx
    assert sum(m["unit_ucum"] is not None for m in meas) > 0.9 * n_obx
    assert sum(m["visit_occurrence_id"] is not None for m in meas) > 0.5 * n_obx
    lis_ids = {r["src_person_id"] for r in rows(data_dir, "source_person")}
    assert lis_ids and lis_ids <= _truth(hospital, "LIS")
    assert {m["person_id"] for m in meas} <= {person_id_for("LIS", i) for i in lis_ids}


def test_pacs_tree(hospital: Path, data_dir: Path) -> None:
    files = sorted((hospital / "pacs").rglob("*.dcm"))
    assert files and all(DicomConnector.detect(f, f.read_bytes()[:65536]) for f in files)
    contexts = run_connector(DicomConnector, files, data_dir, root=hospital)
    assert sum(c.stats.rows_quarantined for c in contexts) == 0
    images = rows(data_dir, "image_occurrence")
    series_dirs = {f.parent.name for f in files}  # pacs/<StudyUID>/<SeriesUID>/<n>.dcm
    assert {i["image_series_uid"] for i in images} == series_dirs
    assert sum(i["instance_count"] for i in images) == len(files)
    assert all(i["accession_number"] for i in images)
    assert {r["src_person_id"] for r in rows(data_dir, "source_person")} <= _truth(hospital, "PACS")


def test_partner_bundles(hospital: Path, data_dir: Path) -> None:
    files = sorted((hospital / "partner" / "fhir").glob("*.json"))
    assert files and all(FhirConnector.detect(f, f.read_bytes()[:65536]) for f in files)
    contexts = run_connector(FhirConnector, files, data_dir, root=hospital)
    assert sum(c.stats.rows_quarantined for c in contexts) == 0, [q for c in contexts for q in c._quarantine][
        :3
    ]
    patients = sum(c.stats.by_type.get("Patient", {}).get("read", 0) for c in contexts)
    partner_ids = {r["src_person_id"] for r in rows(data_dir, "source_person")}
    assert len(partner_ids) == patients == len(files)
    assert partner_ids <= _truth(hospital, "PARTNER")
    known = {person_id_for("PARTNER", i) for i in partner_ids}
    for table in ("visit_occurrence", "condition_occurrence"):
        got = rows(data_dir, table)
        assert got and {r["person_id"] for r in got} <= known
    bundle = json.loads(files[0].read_text(encoding="utf-8"))
    n_entries = len(bundle["entry"])
    assert contexts[0].stats.rows_read == n_entries
