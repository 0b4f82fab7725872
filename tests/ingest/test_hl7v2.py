"""The HL7 v2 connector against a real lake: LIS batches, ADT, skips, quarantine, increments, real data."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from medlake.cdm.ids import stable_id
from medlake.cdm.lake import Lake
from medlake.ingest.base import person_id_for
from medlake.ingest.hl7v2 import HL7v2Connector
from tests.ingest.connector_helpers import rows, run_connector

MSH = "MSH|^~\\&|LIS|HOSP|HIS|HOSP|{ts}||{type}|{ctl}|P|2.5|||||CHN|UNICODE UTF-8"


def oru(ctl: str, lis_id: str, visit_no: str, results: list[str], *, obr_time: str = "20240301080000") -> str:
    segs = [
        MSH.format(ts="20240301120000", type="ORU^R01^ORU_R01", ctl=ctl),
        f"PID|1||{lis_id}^^^LIS^PI||张三||19800115|M|||北京市海淀区某路1号||13800138000||||||110101198001150011",
        f"PV1|1|I|||||||||||||||||{visit_no}",
        "ZLS|custom|segment",
        f"OBR|1||S{ctl}|CBC^血常规^LOCAL|||{obr_time}",
        *results,
    ]
    return "\r".join(segs)


def lis_batch(messages: list[str]) -> bytes:
    body = "\r".join(["FHS|^~\\&|LIS", "BHS|^~\\&|LIS", *messages, f"BTS|{len(messages)}", "FTS|1"])
    return ("\ufeff" + body + "\r").encode()


RESULTS = [
    "OBX|1|NM|WBC^白细胞计数^LOCAL||12.3|10\\S\\9/L|3.5-9.5|H|||F|||20240301093000",
    "OBX|2|NM|HGB^血红蛋白^LOCAL||<5|g/L|130-175|L|||F",
    "OBX|3|ST|COM^备注^LOCAL||标本溶血\\T\\复查|||A|||F",
    "OBX|4|SN|CRP^C反应蛋白^LOCAL||>^10|mg/L|0-10|H|||F",
    "OBX|5|NM|RBC^红细胞计数^LOCAL||4.5|10^12/L|4.3-5.8|N|||F",
]


@pytest.fixture
def batch(tmp_path: Path) -> Path:
    p = tmp_path / "ORU_20240301.hl7"
    p.write_bytes(
        lis_batch(
            [
                oru("M1", "L0000001", "V0000000001", RESULTS),
                "MSH|^~\\&|LIS|HOSP|HIS|HOSP|20240301||ORU^R01|BROKEN|P|2.5\rPID|1||L9\r<html>oops</html>",
                "MSH|^~\\&|LIS|HOSP|HIS|HOSP|20240301||ORU^R01|NOPID|P|2.5\rOBX|1|NM|X^x^LOCAL||1",
                MSH.format(ts="20240301", type="QRY^A19", ctl="Q1") + "\rQRD|x",
                oru("M2", "L0000002", "", ["OBX|1|NM|GLU^葡萄糖^LOCAL||5.6|mmol/l|3.9-6.1|N|||F"]),
            ]
        )
    )
    return p


def test_detect_by_content(tmp_path: Path) -> None:
    assert HL7v2Connector.detect(tmp_path / "x", b"\xef\xbb\xbfMSH|^~\\&|A")
    assert HL7v2Connector.detect(tmp_path / "x", b"FHS|^~\\&|A")
    assert HL7v2Connector.detect(tmp_path / "x", b"\r\nBHS|^~\\&|A")
    assert not HL7v2Connector.detect(tmp_path / "x", b"MSHX|")
    assert not HL7v2Connector.detect(tmp_path / "x", "登记号,姓名\n".encode())
    assert not HL7v2Connector.detect(tmp_path / "x", b'{"resourceType": "Bundle"}')


def test_lis_batch_lands_good_messages_and_quarantines_bad(batch: Path, data_dir: Path) -> None:
    (ctx,) = run_connector(HL7v2Connector, batch, data_dir)
    s = ctx.stats
    assert s.rows_read == 5
    assert s.rows_quarantined == 2
    assert s.skipped == {"QRY^A19 not mapped": 1}
    assert s.by_type["ORU^R01"] == {"read": 3, "mapped": 2, "quarantined": 1}
    assert s.by_type["unparsable"] == {"read": 1, "quarantined": 1}
    reasons = {q["src_record"]: q["reason"] for q in rows(data_dir, "_quarantine")}
    assert "invalid segment name" in reasons["BROKEN"]
    assert reasons["NOPID"] == "ORU^R01 without a PID segment"

    meas = {m["measurement_source_value"]: m for m in rows(data_dir, "measurement")}
    assert set(meas) == {"WBC", "HGB", "COM", "CRP", "RBC", "GLU"}
    wbc = meas["WBC"]
    assert wbc["value_as_number"] == 12.3
    assert wbc["value_source_value"] == "12.3"
    assert (wbc["unit_source_value"], wbc["unit_ucum"]) == ("10^9/L", "10*9/L")
    assert (wbc["range_low"], wbc["range_high"], wbc["abnormal_flag"]) == (3.5, 9.5, "H")
    assert wbc["measurement_datetime"] == datetime(2024, 3, 1, 9, 30)  # OBX-14 wins
    assert meas["HGB"]["measurement_datetime"] == datetime(2024, 3, 1, 8, 0)  # else OBR-7
    assert (meas["HGB"]["value_as_number"], meas["HGB"]["operator_concept_id"]) == (5.0, 4171756)
    assert meas["COM"]["value_as_number"] is None
    assert meas["COM"]["value_source_value"] == "标本溶血&复查"
    assert (meas["CRP"]["value_as_number"], meas["CRP"]["value_source_value"]) == (10.0, ">10")
    assert meas["GLU"]["unit_ucum"] == "mmol/L"
    assert (meas["RBC"]["unit_source_value"], meas["RBC"]["unit_ucum"]) == ("10^12/L", "10*12/L")
    assert wbc["person_id"] == person_id_for("LIS", "L0000001")
    assert wbc["visit_occurrence_id"] == stable_id("visit", "HIS|V0000000001")
    assert meas["GLU"]["visit_occurrence_id"] is None
    assert wbc["src_system"] == "LIS" and wbc["src_file"] == ctx.src.sha256
    assert wbc["src_record"].startswith("M1/OBX1")
    assert meas["CRP"]["measurement_source_concept_id"] >= 2_000_000_000
    assert len({m["measurement_id"] for m in meas.values()}) == 6

    people = {p["src_person_id"]: p for p in rows(data_dir, "source_person")}
    assert set(people) == {"L0000001", "L0000002"}
    p1 = people["L0000001"]
    assert (p1["name"], p1["sex"], p1["birth_date"]) == ("张三", "M", date(1980, 1, 15))
    assert (p1["phone"], p1["resident_id"]) == ("13800138000", "110101198001150011")
    assert p1["address"] == "北京市海淀区某路1号"
    person = rows(data_dir, "person", f"person_id = {person_id_for('LIS', 'L0000001')}")
    assert person[0]["gender_concept_id"] == 8507 and person[0]["year_of_birth"] == 1980


def test_reingest_is_idempotent(batch: Path, data_dir: Path) -> None:
    run_connector(HL7v2Connector, batch, data_dir)
    first = sorted(m["measurement_id"] for m in rows(data_dir, "measurement"))
    run_connector(HL7v2Connector, batch, data_dir)
    assert sorted(m["measurement_id"] for m in rows(data_dir, "measurement")) == first


def test_new_day_touches_nothing_else(tmp_path: Path, data_dir: Path) -> None:
    day1 = tmp_path / "ORU_20240301.hl7"
    day2 = tmp_path / "ORU_20240302.hl7"
    day1.write_bytes(lis_batch([oru("D1", "L1", "V1", RESULTS[:2])]))
    day2.write_bytes(lis_batch([oru("D2", "L2", "V2", RESULTS[2:])]))
    run_connector(HL7v2Connector, day1, data_dir)
    part = Lake(data_dir).table_dir("measurement") / "hl7v2_ORU_20240301.hl7.parquet"
    before = (part.stat().st_mtime_ns, pq.read_table(part).to_pylist())
    run_connector(HL7v2Connector, day2, data_dir)
    assert (part.stat().st_mtime_ns, pq.read_table(part).to_pylist()) == before
    assert len(rows(data_dir, "measurement")) == 5
    # a corrected day-1 file replaces its own part only
    day1.write_bytes(lis_batch([oru("D1", "L1", "V1", RESULTS[:1])]))
    run_connector(HL7v2Connector, day1, data_dir)
    assert len(rows(data_dir, "measurement")) == 4


def test_adt_events_map_persons_and_merge_visits(tmp_path: Path, data_dir: Path) -> None:
    pid = "PID|1||H00000123^^^HIS^MR||李^四||19700202|F"
    msgs = [
        MSH.format(ts="20240101100000", type="ADT^A01", ctl="A1") + f"\rEVN|A01|20240101100000\r{pid}\r"
        "PV1|1|I|W1||||||||||||||||V0000000009|||||||||||||||||||||||||20240101100000",
        MSH.format(ts="20240105090000", type="ADT^A03", ctl="A2") + f"\rEVN|A03|20240105090000\r{pid}\r"
        "PV1|1|I|W1||||||||||||||||V0000000009",
        MSH.format(ts="20240105090000", type="ADT^A40", ctl="A3") + f"\rEVN|A40\r{pid}\rMRG|H1",
        # old-style MSH-9 without the event: the event comes from EVN-1
        MSH.format(ts="20240106", type="ADT", ctl="A4") + "\rEVN|A28\rPID|1||H00000124^^^HIS^MR||王^五",
    ]
    f = tmp_path / "adt.hl7"
    f.write_text("\n".join(msgs), encoding="utf-8")
    (ctx,) = run_connector(HL7v2Connector, f, data_dir)
    assert ctx.stats.skipped == {"ADT^A40 not mapped": 1}
    assert ctx.stats.by_type["ADT^A28"] == {"read": 1, "mapped": 1}
    (v,) = rows(data_dir, "visit_occurrence")
    assert v["visit_occurrence_id"] == stable_id("visit", "HIS|V0000000009")
    assert v["visit_start_datetime"] == datetime(2024, 1, 1, 10, 0)
    assert v["visit_end_datetime"] == datetime(2024, 1, 5, 9, 0)
    assert v["visit_concept_id"] == 9201
    assert v["person_id"] == person_id_for("HIS", "H00000123")
    names = {p["src_person_id"]: p["name"] for p in rows(data_dir, "source_person")}
    assert names == {"H00000123": "李四", "H00000124": "王五"}


def _count_obx(path: Path) -> int:
    text = path.read_bytes().decode("utf-8-sig")
    return sum(1 for seg in re.split(r"\r\n|\r|\n", text) if seg.startswith("OBX|"))


@pytest.mark.shared
def test_all_real_messages_go_through(shared_data: Path, data_dir: Path) -> None:
    folder = shared_data / "hl7v2" / "microsoft_fhir_converter"
    files = sorted(folder.glob("*.hl7"))
    assert len(files) == 139
    assert all(HL7v2Connector.detect(f, f.read_bytes()[:65536]) for f in files)
    contexts = run_connector(HL7v2Connector, files, data_dir)
    oru_files = [f for f in files if "|ORU^R01" in f.read_text(encoding="utf-8-sig").split("\n", 1)[0]]
    assert len(oru_files) == 5
    expected_obx = sum(_count_obx(f) for f in oru_files)
    assert len(rows(data_dir, "measurement")) == expected_obx == 54
    read = sum(c.stats.rows_read for c in contexts)
    assert read == 139
    totals: dict[str, int] = {}
    for c in contexts:
        for counts in c.stats.by_type.values():
            for outcome, n in counts.items():
                totals[outcome] = totals.get(outcome, 0) + n
    assert totals["read"] == read
    assert totals["mapped"] + totals["skipped"] + totals.get("quarantined", 0) == read
    assert totals.get("quarantined", 0) == 0
    assert (totals["mapped"], totals["skipped"]) == (35, 104)  # 5 ORU^R01 + 30 ADT person/visit events
    skipped = sum(sum(c.stats.skipped.values()) for c in contexts)
    assert skipped == totals["skipped"] > 0
    assert all(reason.endswith(" not mapped") for c in contexts for reason in c.stats.skipped)
    assert len(rows(data_dir, "visit_occurrence")) > 0
    assert len(rows(data_dir, "source_person")) == len(rows(data_dir, "person"))


def test_legacy_gbk_feed_decodes(tmp_path: Path, data_dir: Path) -> None:
    f = tmp_path / "gbk.hl7"
    f.write_bytes(oru("G1", "L0000003", "", ["OBX|1|ST|RBC^尿红细胞^LOCAL||阴性|||N|||F"]).encode("gb18030"))
    (ctx,) = run_connector(HL7v2Connector, f, data_dir)
    assert ctx.stats.rows_quarantined == 0
    (m,) = rows(data_dir, "measurement")
    assert m["value_source_value"] == "阴性"
    assert rows(data_dir, "source_person")[0]["name"] == "张三"
