"""HIS exports: Chinese-headed CSVs (GBK or UTF-8 as real exports are) and the drug-order workbook."""

from __future__ import annotations

import re
import zipfile
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from medlake.synth.clinical.base import Counters
from medlake.synth.model import Patient
from medlake.synth.writers.chunk import ChunkBuffers
from medlake.synth.writers.xlsx import XlsxStream

PATIENT_HEADER = ["登记号", "姓名", "性别代码", "出生日期", "身份证号", "手机号", "地址", "民族代码"]
VISIT_HEADER = ["就诊号", "登记号", "就诊类型", "科室代码", "科室名称", "入院时间", "出院时间", "离院方式"]
DX_HEADER = ["诊断序号", "就诊号", "登记号", "诊断编码", "诊断名称", "诊断类型", "诊断时间"]
ORDER_HEADER = [
    "医嘱号",
    "就诊号",
    "登记号",
    "药品编码",
    "药品名称",
    "单次剂量",
    "剂量单位",
    "给药途径",
    "频次",
    "开始时间",
    "停止时间",
]
ADMIN_HEADER = [
    "给药序号",
    "医嘱号",
    "就诊号",
    "登记号",
    "药品编码",
    "药品名称",
    "剂量",
    "剂量单位",
    "给药时间",
]
OP_HEADER = ["手术序号", "就诊号", "登记号", "手术编码", "手术名称", "手术日期", "术者", "麻醉方式"]
DEPT_HEADER = ["科室代码", "科室名称"]

#: Excel's sheet limit is 1,048,576 rows; past it the orders continue in drug_orders_002.xlsx, ...
#: (openpyxl keeps every distinct string in memory until saving, so its books roll over sooner).
XLSX_MAX_ROWS = {"stream": 1_000_000, "openpyxl": 200_000}
XLSX_ENGINES = tuple(XLSX_MAX_ROWS)
_FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_CORE_TIME = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def deterministic_xlsx(path: Path) -> None:
    """Rewrite an openpyxl workbook with fixed zip timestamps and document dates (byte-identical runs)."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _CORE_TIME.sub(rb"\g<1>2020-01-01T00:00:00Z\g<2>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, data)
    tmp.replace(path)


HIS_CSV: dict[str, tuple[str, list[str]]] = {
    "his/patients.csv": ("utf-8-sig", PATIENT_HEADER),
    "his/visits.csv": ("gbk", VISIT_HEADER),
    "his/diagnoses.csv": ("gbk", DX_HEADER),
    "his/drug_admin.csv": ("utf-8", ADMIN_HEADER),
    "his/operations.csv": ("gbk", OP_HEADER),
}


def add_his(patient: Patient, counters: Counters, buffers: ChunkBuffers, order_rows: list[list[str]]) -> None:
    """One patient's HIS rows into the chunk buffers (workbook rows into ``order_rows``)."""
    p = patient.person
    pid = p.his_id
    buffers.csv("his/patients.csv").writerow(
        [pid, p.name, p.sex, p.birth.isoformat(), p.resident_id, p.phone, p.address, p.ethnicity_code]
    )
    visits = buffers.csv("his/visits.csv")
    diagnoses = buffers.csv("his/diagnoses.csv")
    admins = buffers.csv("his/drug_admin.csv")
    operations = buffers.csv("his/operations.csv")
    c = counters
    for v in patient.visits:
        end = _ts(v.end) if v.end is not None else ""
        visits.writerow([v.visit_no, pid, v.kind, v.dept_code, v.dept_name, _ts(v.start), end, v.discharge])
        for d in v.diagnoses:
            c.diag += 1
            diagnoses.writerow(
                [
                    c.diag,
                    v.visit_no,
                    pid,
                    d.code,
                    d.name,
                    "主要诊断" if d.primary else "其他诊断",
                    _ts(d.time),
                ]
            )
        for o in v.orders:
            order_rows.append(
                [
                    o.order_no,
                    v.visit_no,
                    pid,
                    o.code,
                    o.name,
                    o.dose,
                    o.unit,
                    o.route,
                    o.freq,
                    _ts(o.start),
                    _ts(o.stop),
                ]
            )
            for t in o.admin_times:
                c.admin += 1
                admins.writerow(
                    [c.admin, o.order_no, v.visit_no, pid, o.code, o.name, o.dose, o.unit, _ts(t)]
                )
        for op in v.operations:
            c.op += 1
            operations.writerow(
                [c.op, v.visit_no, pid, op.code, op.name, op.day.isoformat(), op.surgeon, op.anesthesia]
            )


def _ts(t: datetime) -> str:
    return str(t)[:19]


class OrderBooks:
    """The drug-order workbook(s), rolling over to drug_orders_002.xlsx, ... past the row limit."""

    def __init__(self, his_dir: Path, engine: str = "stream") -> None:
        self.dir = his_dir
        self.engine = engine
        self.max_rows = XLSX_MAX_ROWS[engine]
        self.books: list[Path] = []
        self.rows = 0
        self._book: XlsxStream | Workbook | None = None
        self._ws: XlsxStream | WriteOnlyWorksheet | None = None
        self._ws_rows = 0
        self._new_book()

    def _new_book(self) -> None:
        if self._book is not None:
            self._save()
        n = len(self.books) + 1
        path = self.dir / ("drug_orders.xlsx" if n == 1 else f"drug_orders_{n:03d}.xlsx")
        self.books.append(path)
        if self.engine == "stream":
            self._book = self._ws = XlsxStream(path, "医嘱-药品")
        else:
            self._book = Workbook(write_only=True)
            self._ws = self._book.create_sheet("医嘱-药品")
        self._ws.append(ORDER_HEADER)
        self._ws_rows = 0

    def append_xml(self, xml: str, n_rows: int) -> None:
        """Rows rendered by ``render_rows`` in a worker (stream engine only); a chunk never splits."""
        if self._ws_rows and self._ws_rows + n_rows > self.max_rows:
            self._new_book()
        assert isinstance(self._ws, XlsxStream)
        self._ws.append_xml(xml, n_rows)
        self._ws_rows += n_rows
        self.rows += n_rows

    def append(self, rows: list[list[str]]) -> None:
        for row in rows:
            if self._ws_rows >= self.max_rows:
                self._new_book()
            assert self._ws is not None
            self._ws.append(row)
            self._ws_rows += 1
            self.rows += 1

    def _save(self) -> None:
        if isinstance(self._book, XlsxStream):
            self._book.close()
        elif self._book is not None:
            self._book.save(self.books[-1])
            self._book.close()
            deterministic_xlsx(self.books[-1])
        self._book = self._ws = None

    def close(self) -> list[Path]:
        self._save()
        return self.books
