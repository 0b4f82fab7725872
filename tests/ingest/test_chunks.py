"""Small files of one kind share a part per table per chunk; a changed file still replaces only its rows."""

from __future__ import annotations

from pathlib import Path

from medlake.cdm.lake import Lake
from medlake.ingest.runner import ingest_path
from tests.ingest.test_hl7v2 import RESULTS, lis_batch, oru

BROKEN = "MSH|^~\\&|LIS|HOSP|HIS|HOSP|20240301||ORU^R01|NOPID|P|2.5\rOBX|1|NM|X^x^LOCAL||1"


def _measurements(lake: Lake) -> list[tuple[str, str]]:
    con = lake.connect()
    got = con.execute(
        "SELECT m.measurement_source_value, r.source_path FROM measurement m "
        "JOIN _raw_file r ON r.sha256 = m.src_file ORDER BY 2, 1"
    ).fetchall()
    con.close()
    return [(str(a), str(b)) for a, b in got]


def test_chunk_shares_parts_and_a_changed_file_replaces_its_own_rows(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "lis"
    src.mkdir()
    (src / "ORU_1.hl7").write_bytes(lis_batch([oru("D1", "L1", "V1", RESULTS[:2]), BROKEN]))
    (src / "ORU_2.hl7").write_bytes(lis_batch([oru("D2", "L2", "V2", RESULTS[2:])]))
    (src / "ORU_3.hl7").write_bytes(lis_batch([oru("D3", "L3", "V3", RESULTS[:1])]))
    lake = Lake(data_dir)
    first = ingest_path(lake, src, show_progress=False, link_persons=False)
    assert [f.status for f in first.files] == ["new"] * 3
    parts = lake.parts("measurement")
    assert len(parts) == 1 and "chunk" in parts[0].name  # three files, one part
    before = _measurements(lake)
    assert len(before) == 6 and lake.count("_quarantine") == 1

    # a corrected first file: its two results become one, its broken message is gone
    (src / "ORU_1.hl7").write_bytes(lis_batch([oru("D1", "L1", "V1", RESULTS[4:5])]))
    second = ingest_path(lake, src, show_progress=False, link_persons=False)
    assert sorted(f.status for f in second.files) == ["changed", "unchanged", "unchanged"]
    after = _measurements(lake)
    assert [m for m in after if m[1] != "ORU_1.hl7"] == [m for m in before if m[1] != "ORU_1.hl7"]
    assert [m for m in after if m[1] == "ORU_1.hl7"] == [("RBC", "ORU_1.hl7")]
    assert lake.count("_quarantine") == 0
    manifest = lake.connect().execute("SELECT count(DISTINCT part) FROM _raw_file").fetchone()
    assert manifest == (2,)  # the first run's chunk and the second run's


def test_re_ingest_of_a_chunk_changes_nothing(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "lis"
    src.mkdir()
    for i in range(3):
        (src / f"ORU_{i}.hl7").write_bytes(lis_batch([oru(f"D{i}", f"L{i}", f"V{i}", RESULTS)]))
    lake = Lake(data_dir)
    ingest_path(lake, src, show_progress=False, link_persons=False)
    counts = lake.counts()
    again = ingest_path(lake, src, show_progress=False, link_persons=False)
    assert {f.status for f in again.files} == {"unchanged"}
    assert lake.counts() == counts
