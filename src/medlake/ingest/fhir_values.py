"""Reading FHIR R4 JSON values: references, codings, dates, quantities, names, attachments.

A patient's local id (``source_person.src_person_id``) is its medical record number: the
identifier typed ``MR``, else the first identifier that is not a national/personal id (resident
id, SSN, licence, passport), else the resource id; its person id is
``person_id_for('PARTNER', <local id>)``, the provisional id the master patient index expects.
A reference ``Patient/<id>``, ``urn:uuid:<id>`` or ``<base>/Patient/<id>`` is resolved through
``Refs.patient_keys`` (resource id → local id, filled from every Patient the connector has seen,
in this run or in the lake). Every other resource gets ``stable_id(<namespace>,
'PARTNER|<Type>/<id>')``, so references between files of an export resolve by resource id.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime
from typing import Any

from medlake.cdm.ids import stable_id
from medlake.ingest.base import person_id_for

SYSTEM = "PARTNER"
_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")
_CHARSET = re.compile(r"charset\s*=\s*([\w\-]+)", re.I)

Json = dict[str, Any]


class Refs:
    """Resolves references inside one file: bundle ``fullUrl`` → (type, id), else the reference text."""

    def __init__(
        self, full_urls: dict[str, tuple[str, str]] | None = None, patient_keys: dict[str, str] | None = None
    ) -> None:
        self.full_urls = full_urls or {}
        self.patient_keys = patient_keys if patient_keys is not None else {}

    def target(self, ref: Any) -> tuple[str, str] | None:
        """(resource type, id) of a Reference; None for conditional, contained or empty references."""
        if not isinstance(ref, dict):
            return None
        text = ref.get("reference")
        if not isinstance(text, str) or not text or text.startswith("#") or "?" in text:
            return None
        if text in self.full_urls:
            return self.full_urls[text]
        if text.startswith("urn:uuid:") or text.startswith("urn:oid:"):
            return ("", text.rsplit(":", 1)[1])
        parts = [p for p in text.split("/") if p]
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        if len(parts) >= 2:
            return (parts[-2], parts[-1])
        return None

    def person(self, ref: Any) -> int | None:
        t = self.target(ref)
        return person_id_for(SYSTEM, self.patient_keys.get(t[1], t[1])) if t else None

    def id(self, namespace: str, rtype: str, ref: Any) -> int | None:
        t = self.target(ref)
        return stable_id(namespace, f"{SYSTEM}|{t[0] or rtype}/{t[1]}") if t else None


_PERSONAL_ID_SYSTEMS = (
    "urn:oid:2.16.156.10011.1.1",  # 居民身份证 (resident id)
    "http://hl7.org/fhir/sid/us-ssn",
    "urn:oid:2.16.840.1.113883.4.3.25",  # driver's licence
    "http://standardhealthrecord.org/fhir/StructureDefinition/passportNumber",
)
_PERSONAL_ID_TYPES = {"SS", "SB", "DL", "PPN", "NI", "CZ"}


def patient_local_id(res: Json) -> str:
    """The patient's medical record number (see the module docstring), else its resource id."""
    idents = [i for i in res.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
    for ident in idents:
        if "MR" in {str(c.get("code")) for c in codings(ident.get("type"))}:
            return str(ident["value"])
    for ident in idents:
        types = {str(c.get("code")) for c in codings(ident.get("type"))}
        if ident.get("system") not in _PERSONAL_ID_SYSTEMS and not types & _PERSONAL_ID_TYPES:
            return str(ident["value"])
    return str(res.get("id") or "")


def resource_key(rtype: str, rid: str) -> str:
    return f"{SYSTEM}|{rtype}/{rid}"


def parse_datetime(value: Any) -> datetime | None:
    """FHIR date/dateTime/instant as a naive datetime (wall-clock time as written; offset dropped)."""
    if not isinstance(value, str) or not value:
        return None
    m = _PARTIAL.match(value)
    if m:
        y, mo, d = m.groups()
        try:
            return datetime(int(y), int(mo or 1), int(d or 1))
        except ValueError:
            return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def as_date(value: datetime | None) -> date | None:
    return value.date() if value else None


def first_time(res: Json, *keys: str) -> datetime | None:
    """The first present of ``keys`` (``xDateTime``, ``xPeriod``'s start, ``xInstant`` ...)."""
    for key in keys:
        value = res.get(key)
        if isinstance(value, dict):
            value = value.get("start") or value.get("end")
        ts = parse_datetime(value)
        if ts:
            return ts
    return None


def codings(concept: Any) -> list[Json]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict)]


def pick_code(concept: Any, prefer: tuple[str, ...] = ()) -> tuple[str, str, str]:
    """(code, display, system) of a CodeableConcept: a preferred system first, else the first coding."""
    cs = codings(concept)
    for want in prefer:
        for c in cs:
            if want in str(c.get("system", "")) and c.get("code"):
                return str(c["code"]), str(c.get("display") or ""), str(c.get("system") or "")
    for c in cs:
        if c.get("code"):
            return str(c["code"]), str(c.get("display") or ""), str(c.get("system") or "")
    text = concept.get("text") if isinstance(concept, dict) else None
    return (str(text), str(text), "") if text else ("", "", "")


def concept_text(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for c in codings(concept):
        if c.get("display") or c.get("code"):
            return str(c.get("display") or c.get("code"))
    return ""


def category_codes(res: Json) -> set[str]:
    cats = res.get("category") or []
    if isinstance(cats, dict):
        cats = [cats]
    return {str(c.get("code")) for cat in cats for c in codings(cat)}


def human_name(names: Any) -> str:
    """``text``, else family + given (no space for Chinese names, ``given family`` otherwise)."""
    if not isinstance(names, list) or not names:
        return ""
    official = next((n for n in names if isinstance(n, dict) and n.get("use") == "official"), names[0])
    if not isinstance(official, dict):
        return ""
    if official.get("text"):
        return str(official["text"])
    family = str(official.get("family") or "")
    given = "".join(official.get("given") or []) if _cjk(family) else " ".join(official.get("given") or [])
    if _cjk(family) or _cjk(given):
        return family + given
    return " ".join(p for p in (given, family) if p)


def _cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def address_text(addresses: Any) -> str:
    if not isinstance(addresses, list) or not addresses or not isinstance(addresses[0], dict):
        return ""
    a = addresses[0]
    if a.get("text"):
        return str(a["text"])
    parts = [*(a.get("line") or []), a.get("district"), a.get("city"), a.get("state"), a.get("postalCode")]
    return " ".join(str(p) for p in parts if p)


def telecom(res: Json, system: str = "phone") -> str:
    for t in res.get("telecom") or []:
        if isinstance(t, dict) and t.get("system") == system and t.get("value"):
            return str(t["value"])
    return ""


def identifier(res: Json, *systems: str) -> str:
    for ident in res.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") in systems and ident.get("value"):
            return str(ident["value"])
    return ""


def quantity(q: Any) -> tuple[float | None, str, str | None, str | None]:
    """(value, unit as written, UCUM code if the system is UCUM, comparator)."""
    if not isinstance(q, dict):
        return None, "", None, None
    value = q.get("value")
    unit = str(q.get("unit") or q.get("code") or "")
    ucum = str(q["code"]) if q.get("code") and "unitsofmeasure" in str(q.get("system", "")) else None
    return (float(value) if isinstance(value, (int, float)) else None), unit, ucum, q.get("comparator")


def attachment_text(att: Any) -> str | None:
    """Decoded text of an Attachment: base64 ``data`` in its charset (UTF-8 default); None if not text."""
    if not isinstance(att, dict):
        return None
    ctype = str(att.get("contentType") or "text/plain")
    if not (ctype.startswith("text/") or "json" in ctype or "xml" in ctype):
        return None
    data = att.get("data")
    if not isinstance(data, str):
        return None
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return None
    m = _CHARSET.search(ctype)
    for enc in [m.group(1) if m else "utf-8", "utf-8", "gb18030"]:
        try:
            return raw.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
    return None
