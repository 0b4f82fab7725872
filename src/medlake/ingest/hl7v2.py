"""HL7 v2 connector: LIS result feeds (ORU^R01) and ADT patient/visit events, single or batched.

Mapped: ``ORU^R01`` (every OBX → measurement, PID → person + source_person in the ``LIS``
namespace) and the ADT events in ``ADT_PERSON_EVENTS`` (PID → person + source_person in the
``HIS`` namespace, since an ADT feed is the HIS's; the events in ``ADT_VISIT_EVENTS`` also give a
visit_occurrence keyed by the PV1-19 visit number). Every other message type is counted as
skipped (``"<type> not mapped"``); a message that cannot be parsed or lacks a patient id is
quarantined and the rest of the file still lands. ``ctx.stats.by_type`` reconciles per message
type: read = mapped + skipped + quarantined.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from medlake.ingest.base import Connector, IngestContext, register
from medlake.ingest.hl7v2_map import MappingError, measurements, merge_visit, patient, visit
from medlake.ingest.hl7v2_parse import BrokenMessage, Message, decode, split_messages
from medlake.ingest.row_tables import to_table
from medlake.ingest.source_codes import SourceConcepts

ADT_VISIT_EVENTS = frozenset({"A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08", "A11", "A13"})
ADT_PERSON_EVENTS = ADT_VISIT_EVENTS | {"A28", "A31"}
_STARTS = (b"MSH", b"FHS", b"BHS")
TABLES = ("person", "source_person", "measurement", "visit_occurrence")


def looks_like_hl7(head: bytes) -> bool:
    """Optional UTF-8 BOM (and blank lines), then MSH/FHS/BHS followed by a field separator."""
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n\x0b")
    return body[:3] in _STARTS and len(body) > 3 and not chr(body[3]).isalnum() and body[3] > 32


class _Rows:
    """The rows of one file, de-duplicated by id (a later message for the same patient or visit wins)."""

    def __init__(self) -> None:
        self.person: dict[int, dict[str, Any]] = {}
        self.source_person: dict[tuple[str, str], dict[str, Any]] = {}
        self.measurement: list[dict[str, Any]] = []
        self.visit: dict[int, dict[str, Any]] = {}

    def table(self, name: str) -> list[dict[str, Any]]:
        if name == "person":
            return list(self.person.values())
        if name == "source_person":
            return list(self.source_person.values())
        if name == "measurement":
            return self.measurement
        return list(self.visit.values())


@register
class HL7v2Connector(Connector):
    kind: ClassVar[str] = "hl7v2"
    system: ClassVar[str] = "LIS"
    priority: ClassVar[int] = 50
    chunked: ClassVar[bool] = True
    parallel: ClassVar[bool] = True

    @classmethod
    def detect(cls, path: Path, head: bytes) -> bool:
        return looks_like_hl7(head)

    def ingest(self, ctx: IngestContext) -> None:
        parsed = split_messages(decode(ctx.src.path.read_bytes()))
        if parsed.stray_segments:
            ctx.stats.skip("segment outside a message", parsed.stray_segments)
        rows = _Rows()
        concepts = SourceConcepts(self)
        for msg in parsed.messages:
            ctx.stats.rows_read += 1
            if isinstance(msg, BrokenMessage):
                self._quarantine(
                    ctx, "unparsable", msg.control_id or f"#{msg.index + 1}", msg.reason, msg.raw
                )
                continue
            try:
                self._map(ctx, msg, rows, concepts)
            except MappingError as exc:
                self._quarantine(ctx, msg.message_type, msg.control_id, str(exc), msg.raw)
            except (ValueError, IndexError) as exc:  # a malformed value deep in a message: that message only
                reason = f"malformed {msg.message_type}: {type(exc).__name__}: {exc}"
                self._quarantine(ctx, msg.message_type, msg.control_id, reason, msg.raw)
        concepts.resolve({"measurement_source_concept_id": ("Measurement", "Lab Test")})
        for name in TABLES:
            ctx.write(name, to_table(name, rows.table(name)))

    def _quarantine(self, ctx: IngestContext, mtype: str, record: str, reason: str, raw: str) -> None:
        ctx.stats.count(mtype, "read")
        ctx.stats.count(mtype, "quarantined")
        ctx.quarantine(record, reason, raw, self.system)

    def _map(self, ctx: IngestContext, msg: Message, rows: _Rows, concepts: SourceConcepts) -> None:
        mtype = msg.message_type
        code, _, event = mtype.partition("^")
        if code == "ADT" and not event:
            evn = msg.first("EVN")
            event = evn.get(1) if evn else ""
            mtype = f"ADT^{event}" if event else mtype
        src_file = ctx.src.sha256
        if mtype == "ORU^R01":
            pid = msg.first("PID")
            if pid is None:
                raise MappingError("ORU^R01 without a PID segment")
            who = patient(pid, "LIS", f"{msg.control_id}/PID", src_file)
            rows.measurement.extend(measurements(msg, who.person_id, "LIS", src_file, concepts))
        elif code == "ADT" and event in ADT_PERSON_EVENTS:
            pid = msg.first("PID")
            if pid is None:
                raise MappingError(f"{mtype} without a PID segment")
            who = patient(pid, "HIS", f"{msg.control_id}/PID", src_file)
            if event in ADT_VISIT_EVENTS:
                row = visit(msg, who.person_id, src_file, event)
                if row is not None:
                    vid = row["visit_occurrence_id"]
                    rows.visit[vid] = merge_visit(rows.visit[vid], row) if vid in rows.visit else row
        else:
            ctx.stats.count(mtype, "read")
            ctx.stats.count(mtype, "skipped")
            ctx.stats.skip(f"{mtype} not mapped")
            return
        rows.person[who.person_id] = who.person
        rows.source_person[(who.source_person["src_system"], who.local_id)] = who.source_person
        ctx.stats.count(mtype, "read")
        ctx.stats.count(mtype, "mapped")
