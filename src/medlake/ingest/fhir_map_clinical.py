"""FHIR mappers for administrative and clinical-event resources: patients, encounters, conditions,
procedures, medications, immunizations, allergies, practitioners and organizations."""

from __future__ import annotations

from typing import Any

from medlake.ingest.base import person_id_for
from medlake.ingest.fhir_map_base import (
    ADMINISTRATION,
    EHR,
    GENDER,
    NPI_SYSTEMS,
    PRESCRIPTION,
    RESIDENT_ID_SYSTEMS,
    VISIT_CLASS,
    MapContext,
    MappingError,
    Rows,
    lineage,
    row_id,
    source_code,
    subject_person,
)
from medlake.ingest.fhir_values import (
    SYSTEM,
    Json,
    address_text,
    as_date,
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


def patient(res: Json, ctx: MapContext) -> Rows:
    rid = patient_local_id(res)
    if not rid:
        raise MappingError("Patient without an id or identifier")
    gender_concept, sex = GENDER.get(str(res.get("gender") or ""), (0, ""))
    birth = parse_datetime(res.get("birthDate"))
    lin = lineage(res, ctx)
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
                **lin,
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
                "src_record": lin["src_record"],
            },
        ),
    ]
    died = parse_datetime(res.get("deceasedDateTime"))
    if died:
        death = {"person_id": person_id_for(SYSTEM, rid), "death_date": died.date(), "death_datetime": died}
        rows.append(("death", {**death, "death_type_concept_id": EHR, **lin}))
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
                "visit_occurrence_id": row_id("visit", res),
                "person_id": subject_person(res, ctx),
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
                **lineage(res, ctx),
            },
        )
    ]


def condition(res: Json, ctx: MapContext) -> Rows:
    start = first_time(res, "onsetDateTime", "onsetPeriod", "recordedDate")
    end = first_time(res, "abatementDateTime", "abatementPeriod")
    row: dict[str, Any] = {
        "condition_occurrence_id": row_id("condition", res),
        "person_id": subject_person(res, ctx),
        "condition_concept_id": 0,
        "condition_start_date": as_date(start),
        "condition_start_datetime": start,
        "condition_end_date": as_date(end),
        "condition_end_datetime": end,
        "condition_type_concept_id": EHR,
        "visit_occurrence_id": ctx.refs.id("visit", "Encounter", res.get("encounter")),
        "condition_status_source_value": pick_code(res.get("clinicalStatus"))[0] or None,
        **lineage(res, ctx),
    }
    row["condition_source_value"] = source_code(
        ctx, row, "condition_source_concept_id", res.get("code"), ("icd-10", "icd10")
    )
    if not row["condition_source_value"]:
        raise MappingError("Condition without a code")
    return [("condition_occurrence", row)]


def procedure(res: Json, ctx: MapContext) -> Rows:
    start = first_time(res, "performedDateTime", "performedPeriod")
    end = parse_datetime((res.get("performedPeriod") or {}).get("end"))
    performer = (res.get("performer") or [{}])[0]
    row: dict[str, Any] = {
        "procedure_occurrence_id": row_id("procedure", res),
        "person_id": subject_person(res, ctx),
        "procedure_concept_id": 0,
        "procedure_date": as_date(start),
        "procedure_datetime": start,
        "procedure_end_date": as_date(end),
        "procedure_end_datetime": end,
        "procedure_type_concept_id": EHR,
        "provider_id": ctx.refs.id("provider", "Practitioner", performer.get("actor")),
        "visit_occurrence_id": ctx.refs.id("visit", "Encounter", res.get("encounter")),
        **lineage(res, ctx),
    }
    row["procedure_source_value"] = source_code(ctx, row, "procedure_source_concept_id", res.get("code"))
    return [("procedure_occurrence", row)]


def _drug_row(res: Json, ctx: MapContext, start: Any, end: Any, type_concept: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "drug_exposure_id": row_id("drug", res),
        "person_id": subject_person(res, ctx),
        "drug_concept_id": 0,
        "drug_exposure_start_date": as_date(start),
        "drug_exposure_start_datetime": start,
        "drug_exposure_end_date": as_date(end) or as_date(start),
        "drug_exposure_end_datetime": end,
        "drug_type_concept_id": type_concept,
        "visit_occurrence_id": ctx.refs.id("visit", "Encounter", res.get("encounter") or res.get("context")),
        **lineage(res, ctx),
    }
    medication = res.get("medicationCodeableConcept") or res.get("vaccineCode")
    if medication is None:
        ref = res.get("medicationReference") or {}
        medication = {"text": ref.get("display") or ref.get("reference")} if isinstance(ref, dict) else None
    row["drug_source_value"] = source_code(ctx, row, "drug_source_concept_id", medication, ("rxnorm", "cvx"))
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
    row["quantity"], row["dose_unit_source_value"] = dose, unit or None
    row["route_source_value"] = concept_text(dosage.get("route")) or None
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
        "observation_id": row_id("observation", res),
        "person_id": subject_person(res, ctx),
        "observation_concept_id": 0,
        "observation_date": as_date(when),
        "observation_datetime": when,
        "observation_type_concept_id": EHR,
        "value_as_string": "; ".join(r for r in reactions if r) or None,
        "qualifier_source_value": res.get("criticality"),
        "value_source_value": "allergy",
        "visit_occurrence_id": ctx.refs.id("visit", "Encounter", res.get("encounter")),
        **lineage(res, ctx),
    }
    row["observation_source_value"] = source_code(ctx, row, "observation_source_concept_id", res.get("code"))
    return [("observation", row)]


def practitioner(res: Json, ctx: MapContext) -> Rows:
    gender_concept, sex = GENDER.get(str(res.get("gender") or ""), (0, ""))
    return [
        (
            "provider",
            {
                "provider_id": row_id("provider", res),
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
                "care_site_id": row_id("care_site", res),
                "care_site_name": res.get("name"),
                "place_of_service_concept_id": 0,
                "care_site_source_value": resource_key("Organization", str(res.get("id"))),
                "place_of_service_source_value": concept_text((res.get("type") or [None])[0]) or None,
            },
        )
    ]
