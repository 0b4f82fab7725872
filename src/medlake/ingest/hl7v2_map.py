"""HL7 v2 segments → CDM rows: PID → person/source_person, ORU^R01 OBX → measurement, ADT PV1 → visit.

Pure functions over parsed messages (``hl7v2_parse``); the connector (``hl7v2``) decides which
messages to map, counts the rest as skipped and writes the rows. Ids are stable: a measurement is
``stable_id('measurement', 'LIS|<sending app>|<control id>|<OBX ordinal>')``, a visit named in
PV1-19 is ``stable_id('visit', 'HIS|<visit number>')`` (the HIS 就诊号 shared by every system).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from medlake.cdm.ids import stable_id
from medlake.ingest.base import person_id_for
from medlake.ingest.hl7v2_parse import Message, Segment, parse_ts, unescape
from medlake.ingest.source_codes import SourceConcepts, vocabulary_id
from medlake.ingest.units import to_ucum

GENDER_CONCEPT = {"M": 8507, "F": 8532}
VISIT_CONCEPT = {"I": 9201, "O": 9202, "E": 9203}  # PV1-2 patient class
VISIT_TYPE_EHR = 32817
LAB_TYPE = 32856  # type concept "Lab"
OPERATORS = {"<": 4171756, "<=": 4171754, "=": 4172703, ">": 4172704, ">=": 4171755}
_NUMBER = re.compile(r"^\s*([<>]=?|=)?\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$")
_RANGE = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)?\s*(?:-|_|~|–|—|to)\s*([-+]?\d+(?:\.\d+)?)?\s*$")
_BOUND = re.compile(r"^\s*([<>]=?)\s*([-+]?\d+(?:\.\d+)?)\s*$")
_POWER_UNIT = re.compile(r"^\s*[x×*]?\s*10\^\d+\s*/")
_PREFERRED_ID_TYPES = ("PI", "MR", "PT", "PN")


class MappingError(ValueError):
    """A message that cannot be mapped (quarantined with this reason)."""


@dataclass
class Patient:
    local_id: str
    person_id: int
    source_person: dict[str, Any]
    person: dict[str, Any]


def patient_id(pid: Segment) -> str:
    """PID-3 patient id: the first repetition typed PI/MR/PT/PN, else the first non-empty one (PID-2 legacy)."""
    reps = pid.repetitions(3)
    candidates = [(pid.get(3, 1, rep=i), pid.get(3, 5, rep=i)) for i in range(len(reps))]
    candidates = [c for c in candidates if c[0]]
    for wanted in _PREFERRED_ID_TYPES:
        for value, id_type in candidates:
            if id_type == wanted:
                return value
    if candidates:
        return candidates[0][0]
    return pid.get(2)


def _name(pid: Segment) -> str:
    family, given = pid.get(5, 1), pid.get(5, 2)
    if not given:
        return family
    if _is_cjk(family) or _is_cjk(given):
        return family + given
    return f"{given} {family}"


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _address(pid: Segment) -> str:
    parts = [pid.get(11, i) for i in (1, 2, 3, 4, 5, 6)]
    return " ".join(p for p in parts if p)


def _date(value: str) -> date | None:
    ts = parse_ts(value)
    return ts.date() if ts else None


def patient(pid: Segment, system: str, record: str, src_file: str) -> Patient:
    local_id = patient_id(pid)
    if not local_id:
        raise MappingError("PID-3 patient id is empty")
    person_id = person_id_for(system, local_id)
    sex = pid.get(8).upper()[:1]
    birth = parse_ts(pid.get(7))
    resident_id = pid.get(19) or next(
        (pid.get(3, 1, rep=i) for i in range(len(pid.repetitions(3))) if pid.get(3, 4, rep=i) == "RID"), ""
    )
    phone = pid.get(13) or pid.get(13, 1, rep=1) or pid.get(14)
    source_person = {
        "src_system": system,
        "src_person_id": local_id,
        "name": _name(pid) or None,
        "sex": sex or None,
        "birth_date": birth.date() if birth else None,
        "resident_id": resident_id or None,
        "phone": phone or None,
        "address": _address(pid) or None,
        "src_file": src_file,
        "src_record": record,
    }
    person = {
        "person_id": person_id,
        "gender_concept_id": GENDER_CONCEPT.get(sex, 0),
        "year_of_birth": birth.year if birth else None,
        "month_of_birth": birth.month if birth else None,
        "day_of_birth": birth.day if birth else None,
        "birth_datetime": birth,
        "race_concept_id": 0,
        "ethnicity_concept_id": 0,
        "person_source_value": f"{system}|{local_id}",
        "gender_source_value": sex or None,
        "src_system": system,
        "src_file": src_file,
        "src_record": record,
    }
    return Patient(local_id, person_id, source_person, person)


def visit_id_for(visit_no: str) -> int:
    return stable_id("visit", f"HIS|{visit_no}")


@lru_cache(maxsize=65536)
def parse_number(value: str) -> tuple[float | None, int | None]:
    """A numeric result and its operator concept: ``12.5`` → (12.5, None); ``<5`` → (5.0, <)."""
    m = _NUMBER.match(value)
    if not m:
        return None, None
    op, num = m.groups()
    return float(num), OPERATORS.get(op) if op else None


def parse_sn(obx: Segment) -> tuple[float | None, int | None]:
    """Structured numeric (SN): ``<comparator>^<num1>[^<sep>^<num2>]``; ratios and ranges are not a number."""
    comparator, num1, sep = obx.get(5, 1), obx.get(5, 2), obx.get(5, 3)
    if sep or not num1:
        return None, None
    value, _ = parse_number(num1)
    return value, OPERATORS.get(comparator) if comparator else None


@lru_cache(maxsize=8192)
def parse_range(text: str) -> tuple[float | None, float | None]:
    """OBX-7 reference range: ``3.5-5.5``, ``70_105``, ``<5``, ``>60``; anything else gives no bounds."""
    if not text:
        return None, None
    bound = _BOUND.match(text)
    if bound:
        op, num = bound.groups()
        return (None, float(num)) if op.startswith("<") else (float(num), None)
    m = _RANGE.match(text)
    if not m or not (m.group(1) or m.group(2)):
        return None, None
    low, high = m.groups()
    return (float(low) if low else None, float(high) if high else None)


def _unit(obx: Segment) -> str:
    """OBX-6 unit; a bare ``10^9/L`` (an unescaped ``^`` as many LIS write it) is kept whole."""
    raw = obx.raw(6)
    if _POWER_UNIT.match(raw):
        return unescape(raw, obx.seps).strip()
    return obx.get(6, 1) or obx.get(6, 2)


def _code(obx: Segment) -> tuple[str, str, str]:
    """(code, name, vocabulary) of OBX-3: the local (or LOINC) code; the name when there is no code."""
    code, name, system = obx.get(3, 1), obx.get(3, 2), obx.get(3, 3)
    return code or name, name, vocabulary_id(system, "LIS-LOCAL")


def measurements(
    msg: Message, person_id: int, system: str, src_file: str, concepts: SourceConcepts
) -> list[dict[str, Any]]:
    """One measurement per OBX of an ORU^R01 (every OBX lands, whatever its value type)."""
    rows: list[dict[str, Any]] = []
    pv1 = msg.first("PV1")
    visit_no = pv1.get(19) if pv1 else ""
    visit_id = visit_id_for(visit_no) if visit_no else None
    msg_time = parse_ts(msg.msh.get(7))
    control_id = msg.control_id
    id_prefix = f"{system}|{msg.sending_app}|{control_id}/OBX"
    obr_time: datetime | None = None
    panel = ""
    specimen = ""
    suffix = ""
    ordinal = 0
    for seg in msg.segments:
        if seg.name == "OBR":
            obr_time = parse_ts(seg.get(7)) or parse_ts(seg.get(22))
            panel = seg.get(4, 1)
            specimen = seg.get(3)
            suffix = f"|{specimen}|{panel}" if specimen or panel else ""
            continue
        if seg.name != "OBX":
            continue
        ordinal += 1
        value_type = seg.get(2).upper()
        raw_value = seg.raw(5)
        if value_type == "SN":
            value_text = "".join(seg.get(5, c) for c in (1, 2, 3, 4))
            number, operator = parse_sn(seg)
        else:
            first = seg.get(5)
            value_text = _plain(raw_value, seg, first) if raw_value else ""
            if value_type in {"NM", "ST", "TX", "FT", ""}:
                number, operator = parse_number(first)
            else:
                number, operator = None, None
        low, high = parse_range(seg.get(7))
        when = parse_ts(seg.get(14)) or obr_time or msg_time
        unit = _unit(seg)
        code, name, vocab = _code(seg)
        rows.append(
            {
                "measurement_id": stable_id("measurement", f"{id_prefix}{ordinal}"),
                "person_id": person_id,
                "measurement_concept_id": 0,
                "measurement_date": when.date() if when else None,
                "measurement_datetime": when,
                "measurement_time": _hms(when) if when else None,
                "measurement_type_concept_id": LAB_TYPE,
                "operator_concept_id": operator,
                "value_as_number": number,
                "unit_concept_id": 0,
                "range_low": low,
                "range_high": high,
                "visit_occurrence_id": visit_id,
                "measurement_source_value": code,
                "unit_source_value": unit or None,
                "unit_ucum": to_ucum(unit),
                "value_source_value": value_text,
                "abnormal_flag": seg.get(8) or None,
                "src_system": system,
                "src_file": src_file,
                "src_record": f"{control_id}/OBX{ordinal}{suffix}",
            }
        )
        concepts.note(rows[-1], "measurement_source_concept_id", vocab, code, name)
    return rows


def _hms(when: datetime) -> str:
    return f"{when.hour:02d}:{when.minute:02d}:{when.second:02d}"


def _plain(raw: str, seg: Segment, first: str) -> str:
    """OBX-5 as text: repetitions joined by ``~``, components by ``^`` (unescaped, trailing empties dropped).

    ``first`` is ``seg.get(5)``, the whole value when it has no repetitions or components.
    """
    seps = seg.seps
    if seps.repetition not in raw and seps.component not in raw and seps.subcomponent not in raw:
        return first
    return "~".join(_full(seg, 5, r) for r in range(len(seg.repetitions(5))))


def _full(seg: Segment, index: int, rep: int) -> str:
    """A repetition's components joined by ``^`` after unescaping (e.g. a coded result ``code^text^system``)."""
    reps = seg.repetitions(index)
    if rep >= len(reps):
        return ""
    n = len(reps[rep].split(seg.seps.component))
    parts = [seg.get(index, c, rep=rep) for c in range(1, n + 1)]
    while parts and not parts[-1]:
        parts.pop()
    return "^".join(parts)


def visit(msg: Message, person_id: int, src_file: str, event: str) -> dict[str, Any] | None:
    """A visit_occurrence row from PV1 (None when PV1-19 carries no visit number)."""
    pv1 = msg.first("PV1")
    if pv1 is None or not pv1.get(19):
        return None
    visit_no = pv1.get(19)
    start = parse_ts(pv1.get(44))
    end = parse_ts(pv1.get(45))
    if event == "A03" and end is None:
        evn = msg.first("EVN")
        end = parse_ts(evn.get(6) or evn.get(2)) if evn else None
        end = end or parse_ts(msg.msh.get(7))
    if start is None and event in {"A01", "A04", "A05"}:
        evn = msg.first("EVN")
        start = (parse_ts(evn.get(6) or evn.get(2)) if evn else None) or parse_ts(msg.msh.get(7))
    patient_class = pv1.get(2).upper()
    return {
        "visit_occurrence_id": visit_id_for(visit_no),
        "person_id": person_id,
        "visit_concept_id": VISIT_CONCEPT.get(patient_class, 0),
        "visit_start_date": start.date() if start else None,
        "visit_start_datetime": start,
        "visit_end_date": end.date() if end else None,
        "visit_end_datetime": end,
        "visit_type_concept_id": VISIT_TYPE_EHR,
        "visit_source_value": visit_no,
        "admitted_from_source_value": pv1.get(14) or None,
        "discharged_to_source_value": pv1.get(36) or None,
        "src_system": "HIS",
        "src_file": src_file,
        "src_record": f"{msg.control_id}/PV1",
    }


def merge_visit(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Later ADT events for one visit update it: non-empty values win, the start date is kept."""
    merged = dict(old)
    for key, value in new.items():
        if value is None or value == 0:
            continue
        if key in {"visit_start_date", "visit_start_datetime"} and old.get(key) is not None:
            continue
        merged[key] = value
    return merged
