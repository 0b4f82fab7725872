"""The SQL mapping each HIS export's staged rows (``stg``) onto CDM tables, one place for all of it.

``stg`` holds typed staging columns named in ``his.SPECS``; ``codes`` maps source codes to local
concept ids. Ids are stable hashes of the source keys (``medlake.cdm.ids``), so a re-ingest
reproduces them exactly. ``{file}`` is the raw file's sha256 (lineage).
"""

from __future__ import annotations

from medlake.cdm.ids import stable_id_sql as sid

PERSON = sid("person", "'HIS|' || patient_id")
VISIT = sid("visit", "'HIS|' || visit_no")
CARE_SITE = sid("care_site", "dept_code")
LINEAGE = "'HIS' AS src_system, {file} AS src_file, src_record"

_STATE = r"regexp_extract(address, '^(.*?(?:省|自治区|特别行政区|北京市|上海市|天津市|重庆市))', 1)"
_CITY = r"regexp_extract(address, '^(?:.*?(?:省|自治区))?(.*?(?:市|自治州|地区|盟))', 1)"

SQL: dict[str, list[tuple[str, str]]] = {
    "patients": [
        (
            "person",
            f"""SELECT {PERSON} AS person_id,
                CASE sex WHEN '1' THEN 8507 WHEN '2' THEN 8532 ELSE 0 END AS gender_concept_id,
                year(birth_date) AS year_of_birth, month(birth_date) AS month_of_birth,
                day(birth_date) AS day_of_birth, CAST(birth_date AS TIMESTAMP) AS birth_datetime,
                0 AS race_concept_id, 0 AS ethnicity_concept_id,
                CASE WHEN address IS NULL THEN NULL ELSE {sid("location", _STATE + " || '|' || " + _CITY)} END AS location_id,
                patient_id AS person_source_value, sex AS gender_source_value,
                ethnicity AS ethnicity_source_value, {LINEAGE}
            FROM stg""",
        ),
        (
            "source_person",
            """SELECT 'HIS' AS src_system, patient_id AS src_person_id, name, sex, birth_date, resident_id,
                phone, address, {file} AS src_file, src_record FROM stg""",
        ),
        (
            "location",
            f"""SELECT DISTINCT {sid("location", "state || '|' || city")} AS location_id, city, state,
                state || city AS location_source_value, 'CN' AS country_source_value
            FROM (SELECT {_STATE} AS state, {_CITY} AS city FROM stg WHERE address IS NOT NULL)""",
        ),
    ],
    "visits": [
        (
            "visit_occurrence",
            f"""SELECT {VISIT} AS visit_occurrence_id, {PERSON} AS person_id,
                CASE visit_type WHEN '住院' THEN 9201 WHEN '门诊' THEN 9202 WHEN '急诊' THEN 9203 ELSE 0 END
                    AS visit_concept_id,
                CAST(start_time AS DATE) AS visit_start_date, start_time AS visit_start_datetime,
                CAST(COALESCE(end_time, start_time) AS DATE) AS visit_end_date, end_time AS visit_end_datetime,
                32817 AS visit_type_concept_id,
                CASE WHEN dept_code IS NULL THEN NULL ELSE {CARE_SITE} END AS care_site_id,
                visit_type AS visit_source_value, discharge AS discharged_to_source_value, {LINEAGE}
            FROM stg""",
        ),
    ],
    "diagnoses": [
        (
            "condition_occurrence",
            f"""SELECT {sid("condition", "'HIS|' || diag_id")} AS condition_occurrence_id, {PERSON} AS person_id,
                0 AS condition_concept_id, CAST(time AS DATE) AS condition_start_date,
                time AS condition_start_datetime, 32817 AS condition_type_concept_id,
                CASE diag_type WHEN '主要诊断' THEN 32902 ELSE 32908 END AS condition_status_concept_id,
                CASE WHEN visit_no IS NULL THEN NULL ELSE {VISIT} END AS visit_occurrence_id,
                code AS condition_source_value, codes.concept_id AS condition_source_concept_id,
                diag_type AS condition_status_source_value, {LINEAGE}
            FROM stg LEFT JOIN codes USING (code)""",
        ),
    ],
    "drug_orders": [
        (
            "drug_exposure",
            f"""SELECT {sid("drug", "'HIS-order|' || order_id")} AS drug_exposure_id, {PERSON} AS person_id,
                0 AS drug_concept_id, CAST(start_time AS DATE) AS drug_exposure_start_date,
                start_time AS drug_exposure_start_datetime,
                CAST(COALESCE(end_time, start_time) AS DATE) AS drug_exposure_end_date,
                end_time AS drug_exposure_end_datetime, 32838 AS drug_type_concept_id, dose AS quantity,
                frequency AS sig, CASE WHEN visit_no IS NULL THEN NULL ELSE {VISIT} END AS visit_occurrence_id,
                code AS drug_source_value, codes.concept_id AS drug_source_concept_id,
                route AS route_source_value, unit AS dose_unit_source_value, {LINEAGE}
            FROM stg LEFT JOIN codes USING (code)""",
        ),
    ],
    "drug_admin": [
        (
            "drug_exposure",
            f"""SELECT {sid("drug", "'HIS-admin|' || admin_id")} AS drug_exposure_id, {PERSON} AS person_id,
                0 AS drug_concept_id, CAST(time AS DATE) AS drug_exposure_start_date,
                time AS drug_exposure_start_datetime, CAST(time AS DATE) AS drug_exposure_end_date,
                time AS drug_exposure_end_datetime, 32818 AS drug_type_concept_id, dose AS quantity,
                CASE WHEN visit_no IS NULL THEN NULL ELSE {VISIT} END AS visit_occurrence_id,
                code AS drug_source_value, codes.concept_id AS drug_source_concept_id,
                unit AS dose_unit_source_value, {LINEAGE}
            FROM stg LEFT JOIN codes USING (code)""",
        ),
    ],
    "operations": [
        (
            "procedure_occurrence",
            f"""SELECT {sid("procedure", "'HIS|' || op_id")} AS procedure_occurrence_id, {PERSON} AS person_id,
                0 AS procedure_concept_id, date AS procedure_date, CAST(date AS TIMESTAMP) AS procedure_datetime,
                32817 AS procedure_type_concept_id,
                CASE WHEN visit_no IS NULL THEN NULL ELSE {VISIT} END AS visit_occurrence_id,
                code AS procedure_source_value, codes.concept_id AS procedure_source_concept_id,
                anesthesia AS modifier_source_value, {LINEAGE}
            FROM stg LEFT JOIN codes USING (code)""",
        ),
    ],
    "departments": [
        (
            "care_site",
            f"""SELECT {CARE_SITE} AS care_site_id, dept_name AS care_site_name, 0 AS place_of_service_concept_id,
                dept_code AS care_site_source_value FROM stg""",
        ),
    ],
}
