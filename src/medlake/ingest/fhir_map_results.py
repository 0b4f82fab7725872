"""FHIR mappers for results and documents: observations (measurement / observation), document
references and diagnostic reports (note), imaging studies (image_occurrence)."""

from __future__ import annotations

from typing import Any

from medlake.cdm.ids import stable_id
from medlake.ingest.fhir_map_base import (
    EHR,
    OBSERVATION_CATEGORIES,
    OPERATORS,
    MapContext,
    MappingError,
    Rows,
    lineage,
    row_id,
    source_code,
    subject_person,
)
from medlake.ingest.fhir_values import (
    Json,
    as_date,
    attachment_text,
    category_codes,
    concept_text,
    first_time,
    parse_datetime,
    pick_code,
    quantity,
)
from medlake.ingest.units import to_ucum


def observation(res: Json, ctx: MapContext) -> Rows:
    """Labs, vitals, exams → measurement (one row per valued component); social history, surveys → observation."""
    person = subject_person(res, ctx)
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
            "measurement_id": row_id("measurement", res, suffix),
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
            "measurement_event_id": row_id("measurement", res) if suffix else None,
            **lineage(res, ctx, suffix),
        }
        row["measurement_source_value"] = source_code(
            ctx, row, "measurement_source_concept_id", part.get("code"), ("loinc",)
        )
        rows.append(("measurement", row))
    return rows


def _as_observation(res: Json, ctx: MapContext, person: int, when: Any, visit: int | None) -> dict[str, Any]:
    value, unit, _ucum, _cmp, text = _value(res)
    row: dict[str, Any] = {
        "observation_id": row_id("observation", res),
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
        **lineage(res, ctx),
    }
    row["observation_source_value"] = source_code(
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


def _note(res: Json, ctx: MapContext, text: str, when: Any, title: str, kind: str) -> dict[str, Any]:
    return {
        "note_id": row_id("note", res),
        "person_id": subject_person(res, ctx),
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
        **lineage(res, ctx),
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
    person = subject_person(res, ctx)
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
                    **lineage(res, ctx, f"#{uid}"),
                },
            )
        )
    if not rows:
        raise MappingError("ImagingStudy without a series UID")
    return rows
