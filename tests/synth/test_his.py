"""HIS exports: documented headers, encodings, valid resident ids consistent with the person."""

from __future__ import annotations

import csv
import io
import warnings
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from medlake.synth import SynthSummary
from medlake.synth.people import check_digit, valid_resident_id
from medlake.synth.vocab import load_vocab
from medlake.synth.writers.his import (
    ADMIN_HEADER,
    DX_HEADER,
    OP_HEADER,
    ORDER_HEADER,
    PATIENT_HEADER,
    VISIT_HEADER,
)


def _rows(path: Path, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding=encoding), newline="")))


def test_check_digit_known_value() -> None:
    # the GB 11643 example number
    assert check_digit("11010519491231002") == "X"
    assert valid_resident_id("11010519491231002X")
    assert not valid_resident_id("110105194912310021")


@pytest.mark.parametrize(
    ("name", "header"),
    [("visits.csv", VISIT_HEADER), ("diagnoses.csv", DX_HEADER), ("operations.csv", OP_HEADER)],
)
def test_gbk_files(hospital: tuple[Path, SynthSummary], name: str, header: list[str]) -> None:
    raw = (hospital[0] / "his" / name).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    rows = _rows(hospital[0] / "his" / name, "gbk")
    assert rows[0] == header
    assert len(rows) > 1


def test_patients_csv_is_utf8_with_bom(hospital: tuple[Path, SynthSummary]) -> None:
    raw = (hospital[0] / "his" / "patients.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = _rows(hospital[0] / "his" / "patients.csv", "utf-8-sig")
    assert rows[0] == PATIENT_HEADER
    assert len(rows) == 61


def test_resident_ids_match_person(hospital: tuple[Path, SynthSummary]) -> None:
    vocab = load_vocab()
    regions = {r.code: r for r in vocab.regions}
    rows = _rows(hospital[0] / "his" / "patients.csv", "utf-8-sig")[1:]
    with_id = [r for r in rows if r[4]]
    assert len(with_id) >= 50
    for pid, name, sex, birth, rid, phone, address, eth in with_id:
        assert valid_resident_id(rid), rid
        assert rid[6:14] == birth.replace("-", "")
        assert int(rid[16]) % 2 == (1 if sex == "1" else 0)
        region = regions[rid[:6]]
        assert address.startswith(region.province + region.city + region.district)
        assert len(phone) == 11 and phone.startswith("1")
        assert eth in {code for code, _ in vocab.ethnicities}
        assert pid.startswith("H") and 2 <= len(name) <= 4
        date.fromisoformat(birth)


def test_visits_reference_patients_and_departments(hospital: tuple[Path, SynthSummary]) -> None:
    out = hospital[0] / "his"
    pids = {r[0] for r in _rows(out / "patients.csv", "utf-8-sig")[1:]}
    depts = dict(r for r in _rows(out / "departments.csv", "utf-8")[1:])
    visits = _rows(out / "visits.csv", "gbk")[1:]
    kinds = {v[2] for v in visits}
    assert kinds == {"门诊", "急诊", "住院"} or kinds <= {"门诊", "急诊", "住院"}
    assert "住院" in kinds
    for v in visits:
        assert v[1] in pids
        assert depts[v[3]] == v[4]
        assert (v[6] == "") == (v[2] == "门诊")
    vnos = {v[0] for v in visits}
    for d in _rows(out / "diagnoses.csv", "gbk")[1:]:
        assert d[1] in vnos and d[5] in ("主要诊断", "其他诊断")


def test_drug_orders_workbook(hospital: tuple[Path, SynthSummary]) -> None:
    out = hospital[0] / "his"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wb = openpyxl.load_workbook(out / "drug_orders.xlsx", read_only=True)
    rows = [list(r) for r in wb.active.iter_rows(values_only=True)]
    assert rows[0] == ORDER_HEADER
    assert len(rows) - 1 == hospital[1].drug_orders
    order_nos = {r[0] for r in rows[1:]}
    admins = _rows(out / "drug_admin.csv", "utf-8")
    assert admins[0] == ADMIN_HEADER
    assert len(admins) > 1
    assert all(a[1] in order_nos for a in admins[1:])


def test_openpyxl_engine_writes_same_rows(tmp_path: Path) -> None:
    from medlake.synth import SynthConfig, generate

    a, b = tmp_path / "a", tmp_path / "b"
    generate(SynthConfig(patients=8, seed=3, out=a, max_dicom_files=0))
    generate(SynthConfig(patients=8, seed=3, out=b, max_dicom_files=0, xlsx_engine="openpyxl"))
    ra = list(openpyxl.load_workbook(a / "his" / "drug_orders.xlsx").active.iter_rows(values_only=True))
    rb = list(openpyxl.load_workbook(b / "his" / "drug_orders.xlsx").active.iter_rows(values_only=True))
    assert ra == rb and len(ra) > 1


def test_order_books_roll_over(tmp_path: Path) -> None:
    from medlake.synth.writers.his import OrderBooks

    books = OrderBooks(tmp_path, "stream")
    books.max_rows = 3
    books.append([[f"O{i}", "V1", "H1", "YP1", "药", "1", "mg", "口服", "qd", "t0", "t1"] for i in range(7)])
    paths = books.close()
    assert [p.name for p in paths] == ["drug_orders.xlsx", "drug_orders_002.xlsx", "drug_orders_003.xlsx"]
    sizes = [openpyxl.load_workbook(p).active.max_row for p in paths]
    assert sizes == [4, 4, 2]  # header + rows in each book


def test_streamed_workbook_reads_in_read_only_mode(tmp_path: Path) -> None:
    from medlake.synth.writers.xlsx import XlsxStream, render_rows

    book = XlsxStream(tmp_path / "x.xlsx", "医嘱-药品")
    book.append(["a", "b", "c"])
    book.append_xml(render_rows([["1", "", "3&<4>"], ["x", "y", "z"]]), 2)
    book.close()
    wb = openpyxl.load_workbook(tmp_path / "x.xlsx", read_only=True)
    assert wb.sheetnames == ["医嘱-药品"]
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows == [("a", "b", "c"), ("1", None, "3&<4>"), ("x", "y", "z")]
