"""The lake's schema, defined once: OMOP CDM v5.4-shaped tables plus medlake extensions.

Every clinical table carries lineage columns (``src_system``, ``src_file``, ``src_record``) naming
the source system, the raw file (sha256) and the record inside it. Tables whose name starts with
``_`` are medlake's own bookkeeping (raw manifest, quarantine, ingest runs, source-id maps).
``arrow_schema(name)`` and ``duckdb_columns(name)`` derive the physical types from this one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pyarrow as pa

from medlake.errors import SchemaError

LOCAL_CONCEPT_ID_START = 2_000_000_000

_ARROW = {
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "BOOLEAN": pa.bool_(),
}


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]
    clinical: bool = False
    primary_key: str | None = None
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]


LINEAGE = (("src_system", "VARCHAR"), ("src_file", "VARCHAR"), ("src_record", "VARCHAR"))


def _cols(spec: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in spec.split(","):
        item = item.strip()
        if item:
            name, typ = item.split()
            if typ not in _ARROW:
                raise SchemaError(f"unknown column type {typ} for {name}")
            out.append((name, typ))
    return tuple(out)


def _clinical(name: str, spec: str, description: str) -> Table:
    cols = _cols(spec)
    return Table(name, cols + LINEAGE, clinical=True, primary_key=cols[0][0], description=description)


def _plain(name: str, spec: str, description: str, pk: str | None = None) -> Table:
    return Table(name, _cols(spec), primary_key=pk, description=description)


TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        _clinical(
            "person",
            """person_id BIGINT, gender_concept_id INTEGER, year_of_birth INTEGER, month_of_birth INTEGER,
            day_of_birth INTEGER, birth_datetime TIMESTAMP, race_concept_id INTEGER, ethnicity_concept_id INTEGER,
            location_id BIGINT, provider_id BIGINT, care_site_id BIGINT, person_source_value VARCHAR,
            gender_source_value VARCHAR, gender_source_concept_id INTEGER, race_source_value VARCHAR,
            race_source_concept_id INTEGER, ethnicity_source_value VARCHAR, ethnicity_source_concept_id INTEGER""",
            "one row per person (after linkage, one per real patient)",
        ),
        _clinical(
            "observation_period",
            """observation_period_id BIGINT, person_id BIGINT, observation_period_start_date DATE,
            observation_period_end_date DATE, period_type_concept_id INTEGER""",
            "spans during which a person's events are captured",
        ),
        _clinical(
            "visit_occurrence",
            """visit_occurrence_id BIGINT, person_id BIGINT, visit_concept_id INTEGER, visit_start_date DATE,
            visit_start_datetime TIMESTAMP, visit_end_date DATE, visit_end_datetime TIMESTAMP,
            visit_type_concept_id INTEGER, provider_id BIGINT, care_site_id BIGINT, visit_source_value VARCHAR,
            visit_source_concept_id INTEGER, admitted_from_concept_id INTEGER, admitted_from_source_value VARCHAR,
            discharged_to_concept_id INTEGER, discharged_to_source_value VARCHAR, preceding_visit_occurrence_id BIGINT""",
            "outpatient, emergency and inpatient visits",
        ),
        _clinical(
            "visit_detail",
            """visit_detail_id BIGINT, person_id BIGINT, visit_detail_concept_id INTEGER, visit_detail_start_date DATE,
            visit_detail_start_datetime TIMESTAMP, visit_detail_end_date DATE, visit_detail_end_datetime TIMESTAMP,
            visit_detail_type_concept_id INTEGER, provider_id BIGINT, care_site_id BIGINT,
            visit_detail_source_value VARCHAR, visit_detail_source_concept_id INTEGER, admitted_from_concept_id INTEGER,
            admitted_from_source_value VARCHAR, discharged_to_source_value VARCHAR, discharged_to_concept_id INTEGER,
            preceding_visit_detail_id BIGINT, parent_visit_detail_id BIGINT, visit_occurrence_id BIGINT""",
            "ward / department stays inside a visit",
        ),
        _clinical(
            "condition_occurrence",
            """condition_occurrence_id BIGINT, person_id BIGINT, condition_concept_id INTEGER,
            condition_start_date DATE, condition_start_datetime TIMESTAMP, condition_end_date DATE,
            condition_end_datetime TIMESTAMP, condition_type_concept_id INTEGER, condition_status_concept_id INTEGER,
            stop_reason VARCHAR, provider_id BIGINT, visit_occurrence_id BIGINT, visit_detail_id BIGINT,
            condition_source_value VARCHAR, condition_source_concept_id INTEGER, condition_status_source_value VARCHAR""",
            "diagnoses (ICD-10 source codes kept in condition_source_value)",
        ),
        _clinical(
            "drug_exposure",
            """drug_exposure_id BIGINT, person_id BIGINT, drug_concept_id INTEGER, drug_exposure_start_date DATE,
            drug_exposure_start_datetime TIMESTAMP, drug_exposure_end_date DATE, drug_exposure_end_datetime TIMESTAMP,
            verbatim_end_date DATE, drug_type_concept_id INTEGER, stop_reason VARCHAR, refills INTEGER,
            quantity DOUBLE, days_supply INTEGER, sig VARCHAR, route_concept_id INTEGER, lot_number VARCHAR,
            provider_id BIGINT, visit_occurrence_id BIGINT, visit_detail_id BIGINT, drug_source_value VARCHAR,
            drug_source_concept_id INTEGER, route_source_value VARCHAR, dose_unit_source_value VARCHAR""",
            "drug orders and administrations",
        ),
        _clinical(
            "procedure_occurrence",
            """procedure_occurrence_id BIGINT, person_id BIGINT, procedure_concept_id INTEGER, procedure_date DATE,
            procedure_datetime TIMESTAMP, procedure_end_date DATE, procedure_end_datetime TIMESTAMP,
            procedure_type_concept_id INTEGER, modifier_concept_id INTEGER, quantity INTEGER, provider_id BIGINT,
            visit_occurrence_id BIGINT, visit_detail_id BIGINT, procedure_source_value VARCHAR,
            procedure_source_concept_id INTEGER, modifier_source_value VARCHAR""",
            "procedures and operations",
        ),
        _clinical(
            "measurement",
            """measurement_id BIGINT, person_id BIGINT, measurement_concept_id INTEGER, measurement_date DATE,
            measurement_datetime TIMESTAMP, measurement_time VARCHAR, measurement_type_concept_id INTEGER,
            operator_concept_id INTEGER, value_as_number DOUBLE, value_as_concept_id INTEGER, unit_concept_id INTEGER,
            range_low DOUBLE, range_high DOUBLE, provider_id BIGINT, visit_occurrence_id BIGINT, visit_detail_id BIGINT,
            measurement_source_value VARCHAR, measurement_source_concept_id INTEGER, unit_source_value VARCHAR,
            unit_source_concept_id INTEGER, value_source_value VARCHAR, measurement_event_id BIGINT,
            meas_event_field_concept_id INTEGER, abnormal_flag VARCHAR, unit_ucum VARCHAR""",
            "lab results and other measurements (medlake extensions: abnormal_flag H, L, N, A ...;"
            " unit_ucum, the source unit normalised to UCUM where known)",
        ),
        _clinical(
            "observation",
            """observation_id BIGINT, person_id BIGINT, observation_concept_id INTEGER, observation_date DATE,
            observation_datetime TIMESTAMP, observation_type_concept_id INTEGER, value_as_number DOUBLE,
            value_as_string VARCHAR, value_as_concept_id INTEGER, qualifier_concept_id INTEGER, unit_concept_id INTEGER,
            provider_id BIGINT, visit_occurrence_id BIGINT, visit_detail_id BIGINT, observation_source_value VARCHAR,
            observation_source_concept_id INTEGER, unit_source_value VARCHAR, qualifier_source_value VARCHAR,
            value_source_value VARCHAR, observation_event_id BIGINT, obs_event_field_concept_id INTEGER""",
            "other clinical facts (allergies, social history, ...)",
        ),
        _clinical(
            "death",
            """person_id BIGINT, death_date DATE, death_datetime TIMESTAMP, death_type_concept_id INTEGER,
            cause_concept_id INTEGER, cause_source_value VARCHAR, cause_source_concept_id INTEGER""",
            "deaths",
        ),
        _clinical(
            "note",
            """note_id BIGINT, person_id BIGINT, note_date DATE, note_datetime TIMESTAMP, note_type_concept_id INTEGER,
            note_class_concept_id INTEGER, note_title VARCHAR, note_text VARCHAR, encoding_concept_id INTEGER,
            language_concept_id INTEGER, provider_id BIGINT, visit_occurrence_id BIGINT, visit_detail_id BIGINT,
            note_source_value VARCHAR, note_event_id BIGINT, note_event_field_concept_id INTEGER,
            accession_number VARCHAR""",
            "clinical notes (note_source_value holds the document kind, e.g. 入院记录)",
        ),
        _clinical(
            "note_nlp",
            """note_nlp_id BIGINT, note_id BIGINT, section_concept_id INTEGER, snippet VARCHAR, "offset" VARCHAR,
            lexical_variant VARCHAR, note_nlp_concept_id INTEGER, note_nlp_source_concept_id INTEGER,
            nlp_system VARCHAR, nlp_date DATE, nlp_datetime TIMESTAMP, term_exists VARCHAR, term_temporal VARCHAR,
            term_modifiers VARCHAR, person_id BIGINT, entity_type VARCHAR, offset_start INTEGER, offset_end INTEGER,
            assertion VARCHAR, concept_code VARCHAR, concept_name VARCHAR, code_score DOUBLE, term_date DATE,
            term_date_end DATE, value_as_number DOUBLE, value_high DOUBLE, value_text VARCHAR, unit VARCHAR,
            unit_ucum VARCHAR""",
            "entities found in notes by medlake.nlp (person_id ... unit_ucum are medlake extensions)",
        ),
        _plain(
            "location",
            """location_id BIGINT, address_1 VARCHAR, address_2 VARCHAR, city VARCHAR, state VARCHAR, zip VARCHAR,
            county VARCHAR, location_source_value VARCHAR, country_concept_id INTEGER, country_source_value VARCHAR,
            latitude DOUBLE, longitude DOUBLE""",
            "addresses (generalised to city/county for persons)",
            "location_id",
        ),
        _plain(
            "care_site",
            """care_site_id BIGINT, care_site_name VARCHAR, place_of_service_concept_id INTEGER, location_id BIGINT,
            care_site_source_value VARCHAR, place_of_service_source_value VARCHAR""",
            "hospital departments",
            "care_site_id",
        ),
        _plain(
            "provider",
            """provider_id BIGINT, provider_name VARCHAR, npi VARCHAR, dea VARCHAR, specialty_concept_id INTEGER,
            care_site_id BIGINT, year_of_birth INTEGER, gender_concept_id INTEGER, provider_source_value VARCHAR,
            specialty_source_value VARCHAR, specialty_source_concept_id INTEGER, gender_source_value VARCHAR,
            gender_source_concept_id INTEGER""",
            "clinicians",
            "provider_id",
        ),
        _plain(
            "concept",
            """concept_id INTEGER, concept_name VARCHAR, domain_id VARCHAR, vocabulary_id VARCHAR,
            concept_class_id VARCHAR, standard_concept VARCHAR, concept_code VARCHAR, valid_start_date DATE,
            valid_end_date DATE, invalid_reason VARCHAR""",
            "concepts; local Chinese codes have ids >= 2,000,000,000",
            "concept_id",
        ),
        _plain(
            "concept_relationship",
            """concept_id_1 INTEGER, concept_id_2 INTEGER, relationship_id VARCHAR, valid_start_date DATE,
            valid_end_date DATE, invalid_reason VARCHAR""",
            "relationships between concepts (Maps to, Is a, ...)",
        ),
        _plain(
            "concept_ancestor",
            """ancestor_concept_id INTEGER, descendant_concept_id INTEGER, min_levels_of_separation INTEGER,
            max_levels_of_separation INTEGER""",
            "transitive closure of the concept hierarchy",
        ),
        _plain(
            "vocabulary",
            """vocabulary_id VARCHAR, vocabulary_name VARCHAR, vocabulary_reference VARCHAR,
            vocabulary_version VARCHAR, vocabulary_concept_id INTEGER""",
            "vocabularies loaded into the lake",
            "vocabulary_id",
        ),
        _clinical(
            "image_occurrence",
            """image_occurrence_id BIGINT, person_id BIGINT, procedure_occurrence_id BIGINT, visit_occurrence_id BIGINT,
            anatomic_site_concept_id INTEGER, wadors_uri VARCHAR, local_path VARCHAR, image_occurrence_date DATE,
            image_study_uid VARCHAR, image_series_uid VARCHAR, modality_concept_id INTEGER, modality VARCHAR,
            anatomic_site_source_value VARCHAR, accession_number VARCHAR, study_description VARCHAR,
            series_description VARCHAR, instance_count INTEGER, note_id BIGINT""",
            "imaging series (OMOP imaging extension), linked to reports by accession number",
        ),
        _plain(
            "image_series_meta",
            """image_series_uid VARCHAR, image_study_uid VARCHAR, rows INTEGER, columns INTEGER,
            slice_thickness DOUBLE, pixel_spacing VARCHAR, manufacturer VARCHAR, manufacturer_model VARCHAR,
            body_part_examined VARCHAR, series_number INTEGER, instance_count INTEGER, src_file VARCHAR""",
            "per-series DICOM header metadata",
        ),
        _plain(
            "person_link",
            """src_system VARCHAR, src_person_id VARCHAR, person_id BIGINT, match_probability DOUBLE,
            link_method VARCHAR, linked_at TIMESTAMP""",
            "master patient index: which source-system patient id is which person",
        ),
        _plain(
            "source_person",
            """src_system VARCHAR, src_person_id VARCHAR, name VARCHAR, sex VARCHAR, birth_date DATE,
            resident_id VARCHAR, phone VARCHAR, address VARCHAR, src_file VARCHAR, src_record VARCHAR""",
            "identity attributes of each source-system patient, the input of the master patient index",
        ),
        # -- master patient index (medlake.mpi) ----------------------------------------------------------
        _plain(
            "mpi_review",
            """pair_id VARCHAR, src_system_l VARCHAR, src_person_id_l VARCHAR, src_system_r VARCHAR,
            src_person_id_r VARCHAR, match_probability DOUBLE, reason VARCHAR, created_at TIMESTAMP""",
            "master patient index: uncertain pairs waiting for a reviewer's decision",
            "pair_id",
        ),
        _plain(
            "mpi_decision",
            """pair_id VARCHAR, src_system_l VARCHAR, src_person_id_l VARCHAR, src_system_r VARCHAR,
            src_person_id_r VARCHAR, decision VARCHAR, decided_by VARCHAR, decided_at TIMESTAMP, note VARCHAR""",
            "master patient index: reviewers' match / no-match decisions, re-applied on every link run",
            "pair_id",
        ),
        _plain(
            "_mpi_applied",
            """src_system VARCHAR, provisional_id BIGINT, person_id BIGINT, applied_at TIMESTAMP""",
            "master patient index: the provisional → linked person id map last written into clinical tables",
        ),
        # -- OMOP derived / optional tables, filled by `medlake omop import` (medlake.omop) ---------------
        _plain(
            "condition_era",
            """condition_era_id BIGINT, person_id BIGINT, condition_concept_id INTEGER,
            condition_era_start_date DATE, condition_era_end_date DATE, condition_occurrence_count INTEGER""",
            "condition eras (OMOP derived table)",
            "condition_era_id",
        ),
        _plain(
            "drug_era",
            """drug_era_id BIGINT, person_id BIGINT, drug_concept_id INTEGER, drug_era_start_date DATE,
            drug_era_end_date DATE, drug_exposure_count INTEGER, gap_days INTEGER""",
            "drug eras (OMOP derived table)",
            "drug_era_id",
        ),
        _plain(
            "dose_era",
            """dose_era_id BIGINT, person_id BIGINT, drug_concept_id INTEGER, unit_concept_id INTEGER,
            dose_value DOUBLE, dose_era_start_date DATE, dose_era_end_date DATE""",
            "dose eras (OMOP derived table)",
            "dose_era_id",
        ),
        _plain(
            "device_exposure",
            """device_exposure_id BIGINT, person_id BIGINT, device_concept_id INTEGER,
            device_exposure_start_date DATE, device_exposure_start_datetime TIMESTAMP, device_exposure_end_date DATE,
            device_exposure_end_datetime TIMESTAMP, device_type_concept_id INTEGER, unique_device_id VARCHAR,
            quantity INTEGER, provider_id BIGINT, visit_occurrence_id BIGINT, visit_detail_id BIGINT,
            device_source_value VARCHAR, device_source_concept_id INTEGER""",
            "devices (OMOP)",
            "device_exposure_id",
        ),
        _plain(
            "specimen",
            """specimen_id BIGINT, person_id BIGINT, specimen_concept_id INTEGER, specimen_type_concept_id INTEGER,
            specimen_date DATE, specimen_datetime TIMESTAMP, quantity DOUBLE, unit_concept_id INTEGER,
            anatomic_site_concept_id INTEGER, disease_status_concept_id INTEGER, specimen_source_id VARCHAR,
            specimen_source_value VARCHAR, unit_source_value VARCHAR, anatomic_site_source_value VARCHAR,
            disease_status_source_value VARCHAR""",
            "specimens (OMOP)",
            "specimen_id",
        ),
        _plain(
            "payer_plan_period",
            """payer_plan_period_id BIGINT, person_id BIGINT, payer_plan_period_start_date DATE,
            payer_plan_period_end_date DATE, payer_concept_id INTEGER, payer_source_value VARCHAR,
            plan_concept_id INTEGER, plan_source_value VARCHAR""",
            "health-plan enrolment periods (OMOP)",
            "payer_plan_period_id",
        ),
        _plain(
            "cohort",
            """cohort_definition_id BIGINT, subject_id BIGINT, cohort_start_date DATE, cohort_end_date DATE""",
            "cohort members written by medlake.cohort (one part per cohort definition)",
        ),
        # -- bookkeeping -------------------------------------------------------------------------------
        _plain(
            "_raw_file",
            """sha256 VARCHAR, source_path VARCHAR, source_key VARCHAR, source_kind VARCHAR, size_bytes BIGINT,
            version INTEGER, captured_at TIMESTAMP, rows_read BIGINT, rows_written BIGINT, rows_quarantined BIGINT,
            run_id VARCHAR, part VARCHAR""",
            "raw-zone manifest: every captured file version with its sha256",
        ),
        _plain(
            "_nlp_processed",
            """note_id BIGINT, nlp_system VARCHAR, batch VARCHAR, entity_count INTEGER, processed_at TIMESTAMP""",
            "notes already processed by `medlake nlp run` (one part per batch)",
        ),
        _plain(
            "_dicom_instance",
            """sop_instance_uid VARCHAR, image_series_uid VARCHAR, image_study_uid VARCHAR, instance_number INTEGER,
            patient_id VARCHAR, accession_number VARCHAR, modality VARCHAR, body_part_examined VARCHAR,
            image_date DATE, study_description VARCHAR, series_description VARCHAR, rows INTEGER, columns INTEGER,
            slice_thickness DOUBLE, pixel_spacing VARCHAR, manufacturer VARCHAR, manufacturer_model VARCHAR,
            series_number INTEGER, local_path VARCHAR, source_path VARCHAR, src_file VARCHAR""",
            "DICOM instance headers (one part per study), from which image_occurrence series rows are rebuilt",
        ),
        _plain(
            "_quarantine",
            """src_system VARCHAR, src_file VARCHAR, source_path VARCHAR, src_record VARCHAR, reason VARCHAR,
            raw VARCHAR, run_id VARCHAR, quarantined_at TIMESTAMP""",
            "records that could not be parsed, with the reason",
        ),
    ]
}


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise SchemaError(f"unknown lake table {name!r}") from None


def cdm_tables() -> list[str]:
    return [n for n in TABLES if not n.startswith("_")]


@cache
def arrow_schema(name: str) -> pa.Schema:
    """The table's Arrow schema (immutable, built once per table)."""
    return pa.schema([(c.strip('"'), _ARROW[t]) for c, t in table(name).columns])


def duckdb_columns(name: str) -> list[tuple[str, str]]:
    return [(c.strip('"'), t) for c, t in table(name).columns]
