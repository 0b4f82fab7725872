"""Rows derived from what has landed: observation periods from each person's recorded events."""

from __future__ import annotations

from medlake.cdm.ids import stable_id_sql
from medlake.cdm.lake import Lake, LakeTransaction

_EVENT_DATES = [
    ("visit_occurrence", "visit_start_date", "COALESCE(visit_end_date, visit_start_date)"),
    ("condition_occurrence", "condition_start_date", "condition_start_date"),
    (
        "drug_exposure",
        "drug_exposure_start_date",
        "COALESCE(drug_exposure_end_date, drug_exposure_start_date)",
    ),
    ("procedure_occurrence", "procedure_date", "procedure_date"),
    ("measurement", "measurement_date", "measurement_date"),
    ("note", "note_date", "note_date"),
    ("image_occurrence", "image_occurrence_date", "image_occurrence_date"),
]


def derive_observation_periods(lake: Lake, tx: LakeTransaction) -> int:
    """One observation period per person, from the first to the last recorded event."""
    con = lake.connect()
    try:
        union = " UNION ALL ".join(
            f"SELECT person_id, {s} AS s, {e} AS e FROM {t} WHERE person_id IS NOT NULL AND {s} IS NOT NULL"
            for t, s, e in _EVENT_DATES
        )
        rel = con.sql(
            f"""
            SELECT {stable_id_sql("obsperiod", "person_id")} AS observation_period_id, person_id,
                   min(s) AS observation_period_start_date, max(e) AS observation_period_end_date,
                   32817 AS period_type_concept_id, 'MEDLAKE' AS src_system, 'derived' AS src_file,
                   'person:' || person_id AS src_record
            FROM ({union}) GROUP BY person_id
            """
        )
        return tx.write("observation_period", "derived", rel.to_arrow_table())
    finally:
        con.close()
