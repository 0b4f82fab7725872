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

from medlake.ingest.fhir_map_base import MapContext, MappingError, Rows
from medlake.ingest.fhir_map_clinical import (
    allergy,
    condition,
    encounter,
    immunization,
    medication_administration,
    medication_request,
    organization,
    patient,
    practitioner,
    procedure,
)
from medlake.ingest.fhir_map_results import diagnostic_report, document_reference, imaging_study, observation
from medlake.ingest.fhir_values import Json

__all__ = ["CONCEPT_DOMAINS", "MAPPERS", "TABLES", "MapContext", "MappingError", "Rows"]

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
