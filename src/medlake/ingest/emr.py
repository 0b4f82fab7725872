"""EMR documents exported as JSON lines (病历文书): admission notes, discharge summaries, surgery,
progress, pathology and imaging reports → the ``note`` table.

A line that is not JSON, lacks its document id, patient or text, or has a bad time is quarantined
with its line number; the rest land. Imaging reports keep their accession number so PACS series
link to them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pyarrow as pa

from medlake.cdm.ids import stable_id_sql as sid
from medlake.ingest.base import Connector, IngestContext, register
from medlake.ingest.fields import FieldError, parse_datetime

REQUIRED = ("doc_id", "patient_id", "doc_type", "doc_time", "text")
DOC_TYPES = {
    "入院记录",
    "出院小结",
    "手术记录",
    "病程记录",
    "病理报告",
    "影像报告",
    "门诊病历",
    "会诊记录",
    "护理记录",
}

_SQL = f"""
SELECT {sid("note", "'EMR|' || doc_id")} AS note_id, {sid("person", "'HIS|' || patient_id")} AS person_id,
    CAST(doc_time AS DATE) AS note_date, doc_time AS note_datetime, 32817 AS note_type_concept_id,
    0 AS note_class_concept_id, title AS note_title, text AS note_text, 32678 AS encoding_concept_id,
    0 AS language_concept_id,
    CASE WHEN visit_no IS NULL THEN NULL ELSE {sid("visit", "'HIS|' || visit_no")} END AS visit_occurrence_id,
    doc_type AS note_source_value, accession_no AS accession_number,
    'EMR' AS src_system, FILE_SHA AS src_file, src_record
FROM stg
"""


@register
class EmrNotesConnector(Connector):
    kind: ClassVar[str] = "emr-notes"
    system: ClassVar[str] = "EMR"
    priority: ClassVar[int] = 40
    parallel: ClassVar[bool] = True

    @classmethod
    def detect(cls, path: Path, head: bytes) -> bool:
        first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip()
        if not first.startswith(b"{"):
            return False
        try:
            obj = json.loads(first)
        except ValueError:
            return False
        return (
            isinstance(obj, dict)
            and {"doc_id", "doc_type", "text"} <= obj.keys()
            and "resourceType" not in obj
        )

    def ingest(self, ctx: IngestContext) -> None:
        cols: dict[str, list[Any]] = {
            k: []
            for k in (
                "doc_id",
                "patient_id",
                "visit_no",
                "doc_type",
                "doc_time",
                "title",
                "text",
                "accession_no",
                "src_record",
            )
        }
        with open(ctx.src.path, encoding="utf-8-sig", errors="strict", newline="\n") as fh:
            lineno = 0
            while True:
                try:
                    line = fh.readline()
                except UnicodeDecodeError as exc:
                    ctx.stats.rows_read += 1
                    ctx.quarantine(
                        f"line {lineno + 1}", f"undecodable bytes (not UTF-8): {exc.reason}", "", self.system
                    )
                    return self._finish(ctx, cols)
                if not line:
                    break
                lineno += 1
                if not line.strip():
                    continue
                ctx.stats.rows_read += 1
                try:
                    obj = json.loads(line)
                    if not isinstance(obj, dict):
                        raise FieldError("not a JSON object")
                    missing = [k for k in REQUIRED if not obj.get(k)]
                    if missing:
                        raise FieldError(f"missing {', '.join(missing)}")
                    when = parse_datetime(str(obj["doc_time"]), "doc_time")
                except (ValueError, FieldError) as exc:
                    reason = str(exc) if isinstance(exc, FieldError) else f"not valid JSON: {exc}"
                    ctx.quarantine(f"line {lineno}", reason, line, self.system)
                    continue
                cols["doc_id"].append(str(obj["doc_id"]))
                cols["patient_id"].append(str(obj["patient_id"]))
                cols["visit_no"].append(str(obj["visit_no"]) if obj.get("visit_no") else None)
                cols["doc_type"].append(str(obj["doc_type"]))
                cols["doc_time"].append(when)
                cols["title"].append(obj.get("title") or obj["doc_type"])
                cols["text"].append(str(obj["text"]))
                cols["accession_no"].append(str(obj["accession_no"]) if obj.get("accession_no") else None)
                cols["src_record"].append(f"line {lineno} (doc_id={obj['doc_id']})")
                if obj["doc_type"] not in DOC_TYPES:
                    ctx.stats.skip(f"unknown doc_type kept as-is: {obj['doc_type']}", 0)
        self._finish(ctx, cols)

    def _finish(self, ctx: IngestContext, cols: dict[str, list[Any]]) -> None:
        staged = pa.table(
            {k: pa.array(v, pa.timestamp("us") if k == "doc_time" else pa.string()) for k, v in cols.items()}
        )
        con = duckdb.connect(":memory:")
        try:
            con.register("stg", staged)
            ctx.write("note", con.sql(_SQL.replace("FILE_SHA", f"'{ctx.src.sha256}'")).to_arrow_table())
        finally:
            con.close()
