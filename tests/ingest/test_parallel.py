"""Parsing in worker processes lands exactly the lake a sequential run lands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from medlake.cdm.lake import Lake
from medlake.cdm.schema import TABLES
from medlake.ingest import fhir, runner
from medlake.ingest.base import FileStats, IngestContext
from medlake.ingest.parsed import ParsedFile, RecordingRegistry, _remap_table, remap_concepts
from medlake.ingest.runner import ingest_path
from tests.ingest.his_fixtures import write_broken_patients, write_hospital
from tests.ingest.test_dicom import pydicom_file
from tests.ingest.test_fhir import PID, bundle, resources
from tests.ingest.test_hl7v2 import RESULTS, lis_batch, oru

#: columns that differ between two runs by design (when and in which run a row was captured)
VOLATILE = {"captured_at", "run_id", "quarantined_at", "part", "linked_at", "applied_at", "decided_at"}


def _hospital(root: Path) -> Path:
    write_hospital(root)
    write_broken_patients(root / "his" / "more_patients.csv")
    lis = root / "lis"
    lis.mkdir()
    for i in range(4):
        (lis / f"ORU_{i}.hl7").write_bytes(lis_batch([oru(f"D{i}", f"L{i}", f"V{i}", RESULTS)]))
    (lis / "ORU_bad.hl7").write_bytes(b"MSH|^~\\&|LIS\r<html>not hl7</html>\r")
    partner = root / "partner"
    partner.mkdir()
    for i in range(2):  # resources() holds invalid ones too: workers validate them ahead of mapping
        (partner / f"bundle-{i}.json").write_text(json.dumps(bundle(resources())), encoding="utf-8")
    # a bulk export whose Condition refers to the Patient of another file: that file is mapped by
    # the runner itself (a worker cannot resolve it), the bundles above by the workers
    res = resources()
    cond = dict(res[4], subject={"reference": f"Patient/{PID}"}, encounter={"reference": "Encounter/e-001"})
    (partner / "Patient.000.ndjson").write_text(
        json.dumps(res[0], ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (partner / "Condition.000.ndjson").write_text(
        json.dumps(cond, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    pacs = root / "pacs"
    pacs.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm", "MR_truncated.dcm"):  # the last is quarantined
        shutil.copy(pydicom_file(name), pacs / name)
    return root


def _snapshot(lake: Lake) -> dict[str, list[tuple[str, ...]]]:
    out: dict[str, list[tuple[str, ...]]] = {}
    for name in TABLES:
        table = lake.read(name)
        cols = [c for c in table.column_names if c not in VOLATILE]
        out[name] = sorted(tuple(str(v) for v in row.values()) for row in table.select(cols).to_pylist())
    return out


def test_worker_processes_land_what_a_sequential_run_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _hospital(tmp_path / "src")
    sequential = Lake(tmp_path / "seq")
    ingest_path(sequential, src, show_progress=False, workers=1)
    monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 0)

    def not_here(resource: object) -> str:
        raise AssertionError("FHIR resources must be validated in the workers")

    monkeypatch.setattr(fhir, "validate", not_here)  # the spawned workers keep the real one
    mapped_here: list[str] = []
    own_mapping = fhir.FhirConnector._ingest_file

    def spy(self: fhir.FhirConnector, ctx: IngestContext, *args: Any, **kwargs: Any) -> None:
        mapped_here.append(ctx.src.rel)
        own_mapping(self, ctx, *args, **kwargs)

    monkeypatch.setattr(fhir.FhirConnector, "_ingest_file", spy)
    parallel = Lake(tmp_path / "par")
    report = ingest_path(parallel, src, show_progress=False, workers=2)
    assert not [f.error for f in report.files if f.status == "failed"]
    assert mapped_here == ["partner/Condition.000.ndjson"]  # every other FHIR file was mapped by a worker
    seq, par = _snapshot(sequential), _snapshot(parallel)
    assert seq["measurement"] and seq["_quarantine"] and seq["concept"] and seq["condition_occurrence"]
    assert any("invalid Patient: birthDate" in " ".join(row) for row in seq["_quarantine"])
    assert seq["image_occurrence"] and any("truncated" in " ".join(row) for row in seq["_quarantine"])
    for name in TABLES:
        assert par[name] == seq[name], name


def test_placeholder_concept_ids_are_swapped_for_registry_ids() -> None:
    recording = RecordingRegistry()
    ids = recording.ensure(
        "LIS-LOCAL", {"WBC": "白细胞", "HGB": "血红蛋白"}, domain="Measurement", concept_class="Lab"
    )
    assert ids == {"WBC": -1, "HGB": -2}
    assert recording.ensure("LIS-LOCAL", {"WBC": "白细胞"}, domain="Measurement", concept_class="Lab") == {
        "WBC": -1
    }
    table = pa.table(
        {"measurement_source_concept_id": pa.array([-2, 0, -1, None], pa.int64()), "x": [1, 2, 3, 4]}
    )
    swapped = _remap_table(table, pa.array([2_000_000_007, 2_000_000_003], pa.int64()))
    assert swapped.column("measurement_source_concept_id").to_pylist() == [
        2_000_000_003,
        0,
        2_000_000_007,
        None,
    ]
    assert swapped.column("x").to_pylist() == [1, 2, 3, 4]
    untouched = ParsedFile({"measurement": [table]}, FileStats(), [])  # no codes met: nothing to swap
    assert remap_concepts(untouched, registry=None) is untouched.tables  # type: ignore[arg-type]
