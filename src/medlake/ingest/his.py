"""HIS exports (CSV in UTF-8 or GBK, Excel): registry, visits, diagnoses, drugs, operations, departments.

Each export is recognised by its Chinese header row (see docs/sources.md). A row that fails a
check (wrong field count, undecodable bytes, bad date, invalid resident-ID check digit, missing
key) is quarantined with its line number and reason; every other row lands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pyarrow as pa

from medlake.cdm.vocab import ConceptRegistry
from medlake.ingest.base import Connector, IngestContext, register
from medlake.ingest.fields import FieldError, parse_date, parse_datetime, parse_float, valid_resident_id
from medlake.ingest.his_sql import SQL
from medlake.ingest.tabular import Record, read_csv_records, read_xlsx_records, sniff_header, xlsx_first_row

Parser = Callable[[str, str], Any]
#: staged rows are moved from Python lists to Arrow every this many rows
STAGE_BATCH = 100_000


def _text(value: str, name: str) -> str | None:
    v = value.strip()
    return v or None


def _required(value: str, name: str) -> str:
    v = value.strip()
    if not v:
        raise FieldError(f"missing {name}")
    return v


def _opt_datetime(value: str, name: str) -> Any:
    return parse_datetime(value, name) if value.strip() else None


def _resident_id(value: str, name: str) -> str | None:
    v = value.strip().upper()
    if not v:
        return None
    if not valid_resident_id(v):
        raise FieldError(f"invalid resident ID in {name} (GB 11643 check digit or birth date)")
    return v


def _sex(value: str, name: str) -> str:
    v = value.strip()
    if v not in {"0", "1", "2", "9"}:
        raise FieldError(f"{name} not a GB/T 2261.1 code: {v!r}")
    return v


@dataclass(frozen=True)
class Spec:
    """One HIS export: its header (in order) and how each column is parsed."""

    name: str
    fields: tuple[tuple[str, str, Parser], ...]  # (header text, staging name, parser)
    key: str  # staging field naming the record in quarantine reasons

    @property
    def header(self) -> list[str]:
        return [h for h, _, _ in self.fields]


SPECS: dict[str, Spec] = {
    s.name: s
    for s in [
        Spec(
            "patients",
            (
                ("登记号", "patient_id", _required),
                ("姓名", "name", _text),
                ("性别代码", "sex", _sex),
                ("出生日期", "birth_date", parse_date),
                ("身份证号", "resident_id", _resident_id),
                ("手机号", "phone", _text),
                ("地址", "address", _text),
                ("民族代码", "ethnicity", _text),
            ),
            "patient_id",
        ),
        Spec(
            "visits",
            (
                ("就诊号", "visit_no", _required),
                ("登记号", "patient_id", _required),
                ("就诊类型", "visit_type", _required),
                ("科室代码", "dept_code", _text),
                ("科室名称", "dept_name", _text),
                ("入院时间", "start_time", parse_datetime),
                ("出院时间", "end_time", _opt_datetime),
                ("离院方式", "discharge", _text),
            ),
            "visit_no",
        ),
        Spec(
            "diagnoses",
            (
                ("诊断序号", "diag_id", _required),
                ("就诊号", "visit_no", _text),
                ("登记号", "patient_id", _required),
                ("诊断编码", "code", _required),
                ("诊断名称", "name", _text),
                ("诊断类型", "diag_type", _text),
                ("诊断时间", "time", parse_datetime),
            ),
            "diag_id",
        ),
        Spec(
            "drug_orders",
            (
                ("医嘱号", "order_id", _required),
                ("就诊号", "visit_no", _text),
                ("登记号", "patient_id", _required),
                ("药品编码", "code", _required),
                ("药品名称", "name", _text),
                ("单次剂量", "dose", parse_float),
                ("剂量单位", "unit", _text),
                ("给药途径", "route", _text),
                ("频次", "frequency", _text),
                ("开始时间", "start_time", parse_datetime),
                ("停止时间", "end_time", _opt_datetime),
            ),
            "order_id",
        ),
        Spec(
            "drug_admin",
            (
                ("给药序号", "admin_id", _required),
                ("医嘱号", "order_id", _text),
                ("就诊号", "visit_no", _text),
                ("登记号", "patient_id", _required),
                ("药品编码", "code", _required),
                ("药品名称", "name", _text),
                ("剂量", "dose", parse_float),
                ("剂量单位", "unit", _text),
                ("给药时间", "time", parse_datetime),
            ),
            "admin_id",
        ),
        Spec(
            "operations",
            (
                ("手术序号", "op_id", _required),
                ("就诊号", "visit_no", _text),
                ("登记号", "patient_id", _required),
                ("手术编码", "code", _required),
                ("手术名称", "name", _text),
                ("手术日期", "date", parse_date),
                ("术者", "surgeon", _text),
                ("麻醉方式", "anesthesia", _text),
            ),
            "op_id",
        ),
        Spec(
            "departments",
            (("科室代码", "dept_code", _required), ("科室名称", "dept_name", _required)),
            "dept_code",
        ),
    ]
}

_BY_HEADER = {tuple(s.header): s for s in SPECS.values()}

# local vocabularies the HIS codes register into: spec → (vocabulary, domain, class)
_VOCAB = {
    "diagnoses": ("ICD10CN", "Condition", "Diagnosis"),
    "drug_orders": ("HIS-DRUG", "Drug", "Local drug"),
    "drug_admin": ("HIS-DRUG", "Drug", "Local drug"),
    "operations": ("ICD9CM3CN", "Procedure", "Procedure"),
}


def spec_for_header(header: list[str]) -> Spec | None:
    return _BY_HEADER.get(tuple(h.strip() for h in header))


@register
class HisTableConnector(Connector):
    """Any HIS export whose header matches one of ``SPECS`` (CSV in any encoding, or .xlsx)."""

    kind: ClassVar[str] = "his"
    system: ClassVar[str] = "HIS"
    priority: ClassVar[int] = 10
    parallel: ClassVar[bool] = True

    @classmethod
    def detect(cls, path: Path, head: bytes) -> bool:
        if head.startswith(b"PK\x03\x04") and path.suffix.lower() == ".xlsx":
            # the header row streamed from the zip: detection must not load the sheet
            return spec_for_header(xlsx_first_row(path)) is not None
        return spec_for_header(sniff_header(head)) is not None

    def _records(self, path: Path) -> tuple[list[str], Iterator[Record]]:
        if path.suffix.lower() == ".xlsx":
            return read_xlsx_records(path)
        header, _encoding, records = read_csv_records(path)
        return header, records

    def ingest(self, ctx: IngestContext) -> None:
        header, records = self._records(ctx.src.path)
        spec = spec_for_header(header)
        if spec is None:  # detect() said yes, so the file changed under us
            from medlake.errors import InputFormatError

            raise InputFormatError(f"{ctx.src.rel}: header is not a known HIS export")
        columns: dict[str, list[Any]] = {stg: [] for _, stg, _ in spec.fields}
        columns["src_record"] = []
        key_index = [stg for _, stg, _ in spec.fields].index(spec.key)
        batches: list[pa.Table] = []  # rows move to Arrow every STAGE_BATCH rows: Python objects stay bounded
        for rec in records:
            if len(columns["src_record"]) >= STAGE_BATCH:
                batches.append(pa.table(columns))
                columns = {name: [] for name in columns}
            ctx.stats.rows_read += 1
            if rec.fields is None:
                ctx.quarantine(f"line {rec.line}", rec.error or "unreadable", rec.raw, self.system)
                continue
            values = []
            try:
                for (hdr, _stg, parse), cell in zip(spec.fields, rec.fields, strict=True):
                    values.append(parse(cell, hdr))
            except FieldError as exc:
                key = rec.fields[key_index].strip() or "?"
                ctx.quarantine(f"line {rec.line} ({spec.key}={key})", str(exc), rec.raw, self.system)
                continue
            for (_h, stg, _p), v in zip(spec.fields, values, strict=True):
                columns[stg].append(v)
            columns["src_record"].append(f"line {rec.line}")
        batches.append(pa.table(columns))
        staged = pa.concat_tables(batches, promote_options="default") if len(batches) > 1 else batches[0]
        registry: ConceptRegistry | None = getattr(self, "registry", None)
        con = duckdb.connect(":memory:")
        try:
            con.register("stg", staged)
            if spec.name in _VOCAB and registry is not None and staged.num_rows:
                vocab, domain, cls = _VOCAB[spec.name]
                # the first name each code comes with (in file order)
                pairs = (
                    staged.select(["code", "name"])
                    .group_by("code", use_threads=False)
                    .aggregate([("name", "first")])
                )
                names = {
                    code: name or code
                    for code, name in zip(
                        pairs.column("code").to_pylist(), pairs.column("name_first").to_pylist(), strict=True
                    )
                }
                ids = registry.ensure(vocab, names, domain=domain, concept_class=cls)
                con.register("codes", pa.table({"code": list(ids), "concept_id": list(ids.values())}))
            else:
                con.register(
                    "codes",
                    pa.table({"code": pa.array([], pa.string()), "concept_id": pa.array([], pa.int64())}),
                )
            for table, sql in SQL[spec.name]:
                rel = con.sql(sql.replace("{file}", f"'{ctx.src.sha256}'"))
                ctx.write(table, rel.to_arrow_table())
        finally:
            con.close()
