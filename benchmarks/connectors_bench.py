"""Throughput of the HL7 v2, FHIR R4 and DICOM connectors on the real sample data.

    .venv/bin/python benchmarks/connectors_bench.py [--shared ../shared/data] [--no-validate-run]

Runs each connector over its whole data set into a fresh lake (the same path the runner takes:
one transaction, per-file contexts), prints files, records read, rows written, quarantined,
seconds and records/s, and the per-type reconciliation for FHIR. Peers measured alongside:
python-hl7's ``hl7.parse`` on the same messages, and FHIR with validation switched off (the cost
of validating every resource with its fhir.resources R4B model).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.ingest.connector_helpers import run_connector  # noqa: E402

from medlake.ingest.base import Connector  # noqa: E402
from medlake.ingest.dicom import DicomConnector  # noqa: E402
from medlake.ingest.fhir import FhirConnector  # noqa: E402
from medlake.ingest.hl7v2 import HL7v2Connector  # noqa: E402


def run(name: str, cls: type[Connector], files: list[Path], root: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        contexts = run_connector(cls, files, Path(tmp), root=root)
        secs = time.perf_counter() - t0
    read = sum(c.stats.rows_read for c in contexts)
    written: Counter[str] = Counter()
    for c in contexts:
        written.update(c.stats.written)
    quarantined = sum(c.stats.rows_quarantined for c in contexts)
    print(
        f"{name:<34} files={len(files):>5} read={read:>6} written={sum(written.values()):>6} "
        f"quarantined={quarantined:>3} {secs:6.1f} s  {read / secs:8.0f} records/s"
    )
    by_type: dict[str, Counter[str]] = {}
    for c in contexts:
        for rtype, counts in c.stats.by_type.items():
            by_type.setdefault(rtype, Counter()).update(counts)
    bad = {
        t: dict(c) for t, c in by_type.items() if c["read"] != c["mapped"] + c["skipped"] + c["quarantined"]
    }
    print(f"{'':<34} reconciles per type: {bad if bad else 'yes'}")


def python_hl7_peer(files: list[Path]) -> None:
    import hl7  # python-hl7

    texts = [f.read_bytes().decode("utf-8-sig") for f in files]
    t0 = time.perf_counter()
    ok = failed = 0
    for text in texts:
        for msg in re.split(r"(?=^MSH\|)", text.replace("\r\n", "\r").replace("\n", "\r"), flags=re.M):
            if not msg.strip():
                continue
            try:
                hl7.parse(msg)
                ok += 1
            except Exception:  # noqa: BLE001 - counting the peer's failures is the point
                failed += 1
    secs = time.perf_counter() - t0
    print(
        f"{'peer: python-hl7 hl7.parse only':<34} messages ok={ok} failed={failed} {secs:6.2f} s (parse only)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--synthea-limit", type=int, default=0, help="only the first N Synthea bundles (0 = all)")
    ap.add_argument("--no-validate-run", action="store_true", help="skip the FHIR run without validation")
    args = ap.parse_args()
    shared: Path = args.shared
    hl7_dir = shared / "hl7v2" / "microsoft_fhir_converter"
    hl7_files = sorted(hl7_dir.glob("*.hl7"))
    run("HL7 v2 (139 real messages)", HL7v2Connector, hl7_files, hl7_dir)
    python_hl7_peer(hl7_files)

    bulk = shared / "fhir" / "bulk_10_patients"
    synthea = shared / "fhir" / "synthea_r4"
    synthea_files = sorted(synthea.glob("*.json"))
    if args.synthea_limit:
        synthea_files = synthea_files[: args.synthea_limit]
    run("FHIR bulk NDJSON (validated)", FhirConnector, sorted(bulk.glob("*.ndjson")), bulk)
    run(f"FHIR Synthea {len(synthea_files)} bundles (validated)", FhirConnector, synthea_files, synthea)
    if not args.no_validate_run:
        FhirConnector.validate = False
        try:
            run(f"FHIR Synthea {len(synthea_files)} (no validation)", FhirConnector, synthea_files, synthea)
        finally:
            FhirConnector.validate = True

    from pydicom.data import get_testdata_file

    test_files = Path(str(get_testdata_file("CT_small.dcm", download=False))).parent
    dicom_files = sorted(p for p in test_files.rglob("*.dcm") if p.is_file())
    dicom_files += sorted(
        p for p in (test_files / "dicomdirtests").rglob("*") if p.is_file() and "." not in p.name
    )
    run("DICOM pydicom test files", DicomConnector, dicom_files, test_files)


if __name__ == "__main__":
    main()
