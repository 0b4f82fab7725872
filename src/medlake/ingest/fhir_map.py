"""FHIR R4 resources → CDM rows, one mapping function per resource type (``MAPPERS``).

Each mapper takes the resource (plain JSON, already validated) and a ``MapContext`` and returns
``(table, row)`` pairs; a resource that cannot be placed (no subject, no code) raises
``MappingError`` and is quarantined by the connector. Row ids are
``stable_id(<namespace>, 'PARTNER|<Type>/<id>')`` (``#<n>`` appended when one resource gives
several rows, e.g. blood-pressure components), persons ``person_id_for('PARTNER', <Patient id>)``.
Types without a mapper are counted as skipped by the connector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from medlake.cdm.ids import stable_id
from medlake.ingest.base import person_id_for
from medlake.ingest.fhir_values import (
    SYSTEM,
    Json,
    Refs,
    address_text,
    as_date,
    attachment_text,
    category_codes,
    concept_text,
    first_time,
    human_name,
    identifier,
    parse_datetime,
    patient_local_id,
    pick_code,
    quantity,
    resource_key,
    telecom,
)
from medlake.ingest.source_codes import SourceConcepts, vocabulary_id
from medlake.ingest.units import to_ucum

GENDER = {"male": (8507, "M"), "female": (8532, "F"), "other": (0, "O"), "unknown": (0, "U")}
VISIT_CLASS = {"IMP": 9201, "ACUTE": 9201, "NONAC": 9201, "AMB": 9202, "EMER": 9203, "HH": 581476, "VR": 5083}
EHR, PRESCRIPTION, ADMINISTRATION = 32817, 32838, 32818
RESIDENT_ID_SYSTEMS = ("urn:oid:2.16.156.10011.1.1",)
NPI_SYSTEMS = ("http://hl7.org/fhir/sid/us-npi",)
OBSERVATION_CATEGORIES = {"social-history", "survey", "activity"}  # → observation; the rest → measurement
OPERATORS = {"<": 4171756, "<=": 4171754, ">": 4172704, ">=": 4171755}

Rows = list[tuple[str, dict[str, Any]]]


class MappingError(ValueError):
    """A resource that cannot be mapped (quarantined with this reason)."""


@dataclass
class MapContext:
    refs: Refs
    src_file: str
    concepts: SourceConcepts


def _lineage(res: Json, ctx: MapContext, suffix: str = "") -> dict[str, str]:
    return {
        "src_system": SYSTEM,
        "src_file": ctx.src_file,
        "src_record": f"{res['resourceType']}/{res.get('id', '')}{suffix}",
    }


def _rid(namespace: str, res: Json, suffix: str = "") -> int:
    return stable_id(namespace, resource_key(res["resourceType"], str(res.get("id", ""))) + suffix)


def _subject(res: Json, ctx: MapContext, key: str = "subject") -> int:
    person = ctx.refs.person(res.get(key) or res.get("patient"))
    if person is None:
        raise MappingError(f"{res['resourceType']} has no resolvable {key} reference")
    return person


def _code(
    ctx: MapContext, row: dict[str, Any], column: str, concept: Any, prefer: tuple[str, ...] = ()
) -> str:
    code, display, system = pick_code(concept, prefer)
    ctx.concepts.note(row, column, vocabulary_id(system, "PARTNER-LOCAL"), code, display)
    return code


def patient(res: Json, ctx: MapContext) -> Rows:
    rid = patient_local_id(res)
    if not rid:
        raise MappingError("Patient without an id or identifier")
    gender_concept, sex = GENDER.get(str(res.get("gender") or ""), (0, ""))
    birth = parse_datetime(res.get("birthDate"))
    lineage = _lineage(res, ctx)
    rows: Rows = [
        (
            "person",
            {
                "person_id": person_id_for(SYSTEM, rid),
                "gender_concept_id": gender_concept,
                "year_of_birth": birth.year if birth else None,
                "month_of_birth": birth.month if birth else None,
                "day_of_birth": birth.day if birth else None,
                "birth_datetime": birth,
                "race_concept_id": 0,
                "ethnicity_concept_id": 0,
                "person_source_value": f"{SYSTEM}|{rid}",
                "gender_source_value": res.get("gender"),
                **lineage,
            },
        ),
        (
            "source_person",
            {
                "src_system": SYSTEM,
                "src_person_id": rid,
                "name": human_name(res.get("name")) or None,
                "sex": sex or None,
                "birth_date": as_date(birth),
                "resident_id": identifier(res, *RESIDENT_ID_SYSTEMS) or None,
                "phone": telecom(res) or None,
                "address": address_text(res.get("address")) or None,
                "src_file": ctx.src_file,
                "src_record": lineage["src_record"],
            },
        ),
    ]
    died = parse_datetime(res.get("deceasedDateTime"))
    if died:
        rows.append(
            ("death", {"person_id": person_id_for(SYSTEM, rid), "death_date": died.date(), "death_datetime": died,
                       "death_type_concept_id": EHR, **lineage})
        )  # fmt: skip
    return rows


def encounter(res: Json, ctx: MapContext) -> Rows:
    period = res.get("period") or {}
    start, end = parse_datetime(period.get("start")), parse_datetime(period.get("end"))
    klass = res.get("class") or {}
    class_code = str(klass.get("code") or "") if isinstance(klass, dict) else ""
    types = res.get("type") or []
    participants = [p.get("individual") for p in res.get("participant") or [] if isinstance(p, dict)]
    hosp = res.get("hospitalization") or {}
    return [
        (
            "visit_occurrence",
            {
                "visit_occurrence_id": _rid("visit", res),
                "person_id": _subject(res, ctx),
                "visit_concept_id": VISIT_CLASS.get(class_code, 0),
                "visit_start_date": as_date(start),
                "visit_start_datetime": start,
                "visit_end_date": as_date(end),
                "visit_end_datetime": end,
                "visit_type_concept_id": EHR,
                "provider_id": ctx.refs.id("provider", "Practitioner", participants[0])
                if participants
                else None,
                "care_site_id": ctx.refs.id("care_site", "Organization", res.get("serviceProvider")),
                "visit_source_value": (concept_text(types[0]) if types else "") or class_code or None,
                "admitted_from_source_value": concept_text(hosp.get("admitSource")) or None,
                "discharged_to_source_value": concept_text(hosp.get("dischargeDisposition")) or None,
                **_lineage(res, ctx),
            },
        )
    ]


def condition(res: Json, ctx: MapContext) -> Rows:
    start = first_time(res, "onsetDateTime", "onsetPeriod", "recordedDate")
    end = first_time(res, "abatementDateTime", "abatementPeriod")
    row: dict[str, Any] = {
        "condition_occurrence_id": _rid("condition", res),
        "person_id": _subject(res, ctx),
        "condition_concept_id": 0,
        "condition_start_date": as_date(start),
        "condition_start_datetime": start,
        "condition_end_date": as_date(end),
        "condition_end_datetime": end,
        "condition_type_concept_id": EHR,
        "visit_occurrence_id": ctx.refs.id("visit", "Encounter", res.get("encounter")),
        "condition_status_source_value": pick_code(res.get("clinicalStatus"))[0] or None,
        **_lineage(res, ctx),
    }
    row["condition_source_value"] = _code(
        ctx, row, "condition_source_concept_id", res.get("code"), ("icd-10", "icd10")
    )
    if not row["condition_source_value"]:
        raise MappingError("Condition without a code")
    return [("condition_occurrence", row)]


def observation(res: Json, ctx: MapContext) -> Rows:
    """Labs, vitals, exams → measurement (one row per valued component); social history, surveys → observation."""
    person = _subject(res, ctx)
    when = first_time(res, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued")
    visit = ctx.refs.id("visit", "Encounter", res.get("encounter"))
    if category_codes(res) & OBSERVATION_CATEGORIES:
        return [("observation", _as_observation(res, ctx, person, when, visit))]
    parts: list[tuple[Json, str]] = []
    if any(k.startswith("value") for k in res) or not res.get("component"):
        parts.append((res, ""))
    parts += [(c, f"#{i}") for i, c in enumerate(res.get("component") or [], start=1) if isinstance(c, dict)]
    rows: Rows = []
    for part, suffix in parts:
        value, unit, ucum, comparator, text = _value(part)
        low, high = _range(part.get("referenceRange") or res.get("referenceRange"))
        row: dict[str, Any] = {
            "measurement_id": _rid("measurement", res, suffix),
            "person_id": person,
            "measurement_concept_id": 0,
            "measurement_date": as_date(when),
            "measurement_datetime": when,
            "measurement_time": when.strftime("%H:%M:%S") if when else None,
            "measurement_type_concept_id": EHR,
            "operator_concept_id": OPERATORS.get(comparator or ""),
            "value_as_number": value,
            "unit_concept_id": 0,
            "range_low": low,
            "range_high": high,
            "visit_occurrence_id": visit,
            "unit_source_value": unit or None,
            "unit_ucum": ucum or to_ucum(unit),
            "value_source_value": text,
            "abnormal_flag": pick_code(
                (part.get("interpretation") or res.get("interpretation") or [None])[0]
            )[0]
            or None,
            "measurement_event_id": _rid("measurement", res) if suffix else None,
            **_lineage(res, ctx, suffix),
        }
        row["measurement_source_value"] = _code(
            ctx, row, "measurement_source_concept_id", part.get("code"), ("loinc",)
        )
        rows.append(("measurement", row))
    return rows


def _as_observation(res: Json, ctx: MapContext, person: int, when: Any, visit: int | None) -> dict[str, Any]:
    value, unit, _ucum, _cmp, text = _value(res)
    row: dict[str, Any] = {
        "observation_id": _rid("observation", res),
        "person_id": person,
        "observation_concept_id": 0,
        "observation_date": as_date(when),
        "observation_datetime": when,
        "observation_type_concept_id": EHR,
        "value_as_number": value,
        "value_as_string": text or None,
        "unit_concept_id": 0,
        "visit_occurrence_id": visit,
        "unit_source_value": unit or None,
        "value_source_value": text or None,
        **_lineage(res, ctx),
    }
    row["observation_source_value"] = _code(
        ctx, row, "observation_source_concept_id", res.get("code"), ("loinc",)
    )
    return row


def _value(part: Json) -> tuple[float | None, str, str | None, str | None, str]:
    """(number, unit, UCUM code, comparator, text) of an Observation or component value[x]."""
    if "valueQuantity" in part:
        value, unit, ucum, comparator = quantity(part["valueQuantity"])
        return value, unit, ucum, comparator, "" if value is None else f"{comparator or ''}{value:g}"
    if "valueCodeableConcept" in part:
        return None, "", None, None, concept_text(part["valueCodeableConcept"])
    for key in ("valueString", "valueBoolean", "valueInteger", "valueDateTime", "valueTime"):
        if key in part:
            raw = part[key]
            number = float(raw) if key == "valueInteger" else None
            return number, "", None, None, str(raw)
    return None, "", None, None, ""


def _range(ranges: Any) -> tuple[float | None, float | None]:
    if not isinstance(ranges, list) or not ranges or not isinstance(ranges[0], dict):
        return None, None
    low, high = quantity(ranges[0].get("low"))[0], quantity(ranges[0].get("high"))[0]
    return low, high


def procedure(res: Json, ctx: MapContext) -> Rows:
    start = first_time(res, "performedDateTime", "performedPeriod")
    end = parse_datetime((res.get("performedPeriod") or {}).get("end"))
    performer = (res.get("performer") or [{}])[0]
    row: dict[str, Any] = {
        "procedure_occurrence_id": _rid("procedure", res),
        "person_id": _subject(res, ctx),
        "procedure_concept_id": 0,
        "procedure_date": as_date(start),
        "procedure_datetime": start,
        "procedure_end_date": as_date(end),
        "procedure_end_datetime": end,
        "procedure_type_concept_id": EHR,
        "provider_id": ctx.refs.id("provider", "Practitioner", performer.get("actor")),
        "visit_occurrence_id": ctx.refs.id("visit", "Encounter", res.get("encounter")),
        **_lineage(res, ctx),
    }
    row["procedure_source_value"] = _code(ctx, row, "procedure_source_concept_id", res.get("code"))
    return [("procedure_occurrence", row)]


def _drug_row(res: Json, ctx: MapContext, start: Any, end: Any, type_concept: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "drug_exposure_id": _rid("drug", res),
        "person_id": _subject(res, ctx),
        "drug_concept_id": 0,
        "drug_exposure_start_date": as_date(start),
        "drug_exposure_start_datetime": start,
        "drug_exposure_end_date": as_date(end) or as_date(start),
        "drug_exposure_end_datetime": end,
        "drug_type_concept_id": type_concept,
        "visit_occurrence_id": ctx.refs.id("visit", "Encounter", res.get("encounter") or res.get("context")),
        **_lineage(res, ctx),
    }
    medication = res.get("medicationCodeableConcept") or res.get("vaccineCode")
    if medication is None:
        ref = res.get("medicationReference") or {}
        medication = {"text": ref.get("display") or ref.get("reference")} if isinstance(ref, dict) else None
    row["drug_source_value"] = _code(ctx, row, "drug_source_concept_id", medication, ("rxnorm", "cvx"))
    if not row["drug_source_value"]:
        raise MappingError(f"{res['resourceType']} without a medication")
    return row


def medication_request(res: Json, ctx: MapContext) -> Rows:
    start = parse_datetime(res.get("authoredOn"))
    row = _drug_row(res, ctx, start, None, PRESCRIPTION)
    dosage = (res.get("dosageInstruction") or [{}])[0]
    dispense = res.get("dispenseRequest") or {}
    row.update(
        {
            "sig": dosage.get("text") or None,
            "route_source_value": concept_text(dosage.get("route")) or None,
            "quantity": quantity(dispense.get("quantity"))[0],
            "refills": dispense.get("numberOfRepeatsAllowed"),
            "provider_id": ctx.refs.id("provider", "Practitioner", res.get("requester")),
            "stop_reason": concept_text(res.get("statusReason")) or None,
        }
    )
    return [("drug_exposure", row)]


def medication_administration(res: Json, ctx: MapContext) -> Rows:
    start = first_time(res, "effectiveDateTime", "effectivePeriod")
    end = parse_datetime((res.get("effectivePeriod") or {}).get("end"))
    row = _drug_row(res, ctx, start, end, ADMINISTRATION)
    dosage = res.get("dosage") or {}
    dose, unit, _ucum, _cmp = quantity(dosage.get("dose"))
    row.update({"quantity": dose, "dose_unit_source_value": unit or None,
                "route_source_value": concept_text(dosage.get("route")) or None})  # fmt: skip
    return [("drug_exposure", row)]


def immunization(res: Json, ctx: MapContext) -> Rows:
    when = first_time(res, "occurrenceDateTime", "recorded")
    row = _drug_row(res, ctx, when, when, EHR)
    row.update(
        {"lot_number": res.get("lotNumber"), "route_source_value": concept_text(res.get("route")) or None}
    )
    return [("drug_exposure", row)]


def allergy(res: Json, ctx: MapContext) -> Rows:
    when = first_time(res, "onsetDateTime", "onsetPeriod", "recordedDate")
    reactions = [concept_text(m) for r in res.get("reaction") or [] for m in r.get("manifestation") or []]
    row: dict[str, Any] = {
        "observation_id": _rid("observation", res),
        "person_id": _subject(res, ctx),
        "observation_concept_id": 0,
        "observation_date": as_date(when),
        "observation_datetime": when,
        "observation_type_concept_id": EHR,
        "value_as_string": "; ".join(r for r in reactions if r) or None,
        "qualifier_source_value": res.get("criticality"),
        "value_source_value": "allergy",
        "visit_occurrence_id": ctx.refs.id("visit", "Encounter", res.get("encounter")),
        **_lineage(res, ctx),
    }
    row["observation_source_value"] = _code(ctx, row, "observation_source_concept_id", res.get("code"))
    return [("observation", row)]


def _note(res: Json, ctx: MapContext, text: str, when: Any, title: str, kind: str) -> dict[str, Any]:
    return {
        "note_id": _rid("note", res),
        "person_id": _subject(res, ctx),
        "note_date": as_date(when),
        "note_datetime": when,
        "note_type_concept_id": EHR,
        "note_class_concept_id": 0,
        "note_title": title or None,
        "note_text": text,
        "encoding_concept_id": 32678,  # UTF-8
        "language_concept_id": 0,
        "visit_occurrence_id": ctx.refs.id("visit", "Encounter", res.get("encounter")),
        "note_source_value": kind or None,
        **_lineage(res, ctx),
    }


def document_reference(res: Json, ctx: MapContext) -> Rows:
    texts = [attachment_text(c.get("attachment")) for c in res.get("content") or [] if isinstance(c, dict)]
    text = next((t for t in texts if t), None)
    if text is None:
        raise MappingError("DocumentReference has no text attachment (base64 text/* data)")
    context = res.get("context") or {}
    encounters = context.get("encounter") or []
    when = parse_datetime(res.get("date")) or first_time(context, "period")
    row = _note(
        res,
        ctx,
        text,
        when,
        res.get("description") or concept_text(res.get("type")),
        concept_text(res.get("type")),
    )
    if encounters:
        row["visit_occurrence_id"] = ctx.refs.id("visit", "Encounter", encounters[0])
    return [("note", row)]


def diagnostic_report(res: Json, ctx: MapContext) -> Rows | None:
    """A report with text (presentedForm or conclusion) → note; a bare panel returns None (skipped)."""
    texts = [attachment_text(a) for a in res.get("presentedForm") or []]
    text = next((t for t in texts if t), None) or res.get("conclusion")
    if not text:
        return None
    when = first_time(res, "effectiveDateTime", "effectivePeriod", "issued")
    return [
        (
            "note",
            _note(res, ctx, str(text), when, concept_text(res.get("code")), concept_text(res.get("code"))),
        )
    ]


def imaging_study(res: Json, ctx: MapContext) -> Rows:
    """One image_occurrence per series, keyed like the DICOM connector's (``stable_id('image', series UID)``)."""
    study_uid = next(
        (
            str(i.get("value", "")).removeprefix("urn:oid:")
            for i in res.get("identifier") or []
            if isinstance(i, dict)
        ),
        str(res.get("id")),
    )
    person = _subject(res, ctx)
    started = parse_datetime(res.get("started"))
    rows: Rows = []
    for series in res.get("series") or []:
        uid = str(series.get("uid") or "")
        if not uid:
            continue
        modality = pick_code({"coding": [series.get("modality") or {}]})[0]
        body = series.get("bodySite") or {}
        rows.append(
            (
                "image_occurrence",
                {
                    "image_occurrence_id": stable_id("image", uid),
                    "person_id": person,
                    "visit_occurrence_id": ctx.refs.id("visit", "Encounter", res.get("encounter")),
                    "anatomic_site_source_value": body.get("display") or body.get("code"),
                    "image_occurrence_date": as_date(parse_datetime(series.get("started")) or started),
                    "image_study_uid": study_uid,
                    "image_series_uid": uid,
                    "modality": modality or None,
                    "study_description": res.get("description"),
                    "series_description": series.get("description"),
                    "instance_count": series.get("numberOfInstances") or len(series.get("instance") or []),
                    **_lineage(res, ctx, f"#{uid}"),
                },
            )
        )
    if not rows:
        raise MappingError("ImagingStudy without a series UID")
    return rows


def practitioner(res: Json, ctx: MapContext) -> Rows:
    gender_concept, sex = GENDER.get(str(res.get("gender") or ""), (0, ""))
    return [
        (
            "provider",
            {
                "provider_id": _rid("provider", res),
                "provider_name": human_name(res.get("name")) or None,
                "npi": identifier(res, *NPI_SYSTEMS) or None,
                "gender_concept_id": gender_concept,
                "gender_source_value": sex or None,
                "provider_source_value": resource_key("Practitioner", str(res.get("id"))),
            },
        )
    ]


def organization(res: Json, ctx: MapContext) -> Rows:
    return [
        (
            "care_site",
            {
                "care_site_id": _rid("care_site", res),
                "care_site_name": res.get("name"),
                "place_of_service_concept_id": 0,
                "care_site_source_value": resource_key("Organization", str(res.get("id"))),
                "place_of_service_source_value": concept_text((res.get("type") or [None])[0]) or None,
            },
        )
    ]


Mapper = Callable[[Json, MapContext], "Rows | None"]

MAPPERS: dict[str, Mapper] = {
    "Patient": patient,
    "Encounter": encounter,
    "Condition": condition,
    "Observation": observation,
    "Procedure": procedure,
    "MedicationRequest": medication_request,
    "MedicationAdministration": medication_administration,
    "Immunization": immunization,
    "AllergyIntolerance": allergy,
    "DocumentReference": document_reference,
    "DiagnosticReport": diagnostic_report,
    "ImagingStudy": imaging_study,
    "Practitioner": practitioner,
    "Organization": organization,
}

#: every table a FHIR file can write (each is written, possibly empty, so a new version replaces the old)
TABLES = (
    "person", "source_person", "death", "visit_occurrence", "condition_occurrence", "measurement", "observation",
    "procedure_occurrence", "drug_exposure", "note", "image_occurrence", "provider", "care_site",
)  # fmt: skip

#: (domain, concept class) of the source codes registered for each column
CONCEPT_DOMAINS = {
    "condition_source_concept_id": ("Condition", "Clinical Finding"),
    "measurement_source_concept_id": ("Measurement", "Lab Test"),
    "observation_source_concept_id": ("Observation", "Clinical Observation"),
    "procedure_source_concept_id": ("Procedure", "Procedure"),
    "drug_source_concept_id": ("Drug", "Drug"),
}
