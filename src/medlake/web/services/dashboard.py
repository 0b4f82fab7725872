"""Dashboard aggregates over the lake, cached per lake version (see ``LakeReader.cached``)."""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb

from medlake.web.storage.lake_reader import LakeReader

TOP_N = 15
COUNT_TABLES = {
    "patients": "person",
    "visits": "visit_occurrence",
    "notes": "note",
    "images": "image_occurrence",
    "labs": "measurement",
}
_SEX = """CASE WHEN gender_concept_id = 8507 OR gender_source_value IN ('1', 'M', 'male') THEN 'M'
               WHEN gender_concept_id = 8532 OR gender_source_value IN ('2', 'F', 'female') THEN 'F'
               ELSE 'U' END"""
_VISIT_KIND = """CASE visit_concept_id WHEN 9201 THEN 'inpatient' WHEN 9202 THEN 'outpatient'
                 WHEN 9203 THEN 'emergency' ELSE 'other' END"""


def _all(cur: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return cur.execute(sql).fetchall()


def compute(cur: duckdb.DuckDBPyConnection, counts: dict[str, int]) -> dict[str, Any]:
    diagnoses = _all(
        cur,
        f"""SELECT c.condition_source_value AS code, any_value(k.concept_name) AS name,
                   count(*) AS n, count(DISTINCT c.person_id) AS persons
            FROM condition_occurrence c
            LEFT JOIN concept k ON k.concept_id = c.condition_source_concept_id
            WHERE c.condition_source_value IS NOT NULL
            GROUP BY 1 ORDER BY n DESC, code LIMIT {TOP_N}""",
    )
    departments = _all(
        cur,
        f"""SELECT coalesce(any_value(cs.care_site_name), CAST(v.care_site_id AS VARCHAR), '-') AS dept,
                   count(*) AS n
            FROM visit_occurrence v LEFT JOIN care_site cs ON cs.care_site_id = v.care_site_id
            GROUP BY v.care_site_id ORDER BY n DESC LIMIT {TOP_N}""",
    )
    this_year = date.today().year
    pyramid = _all(
        cur,
        f"""SELECT {_SEX} AS sex, least(CAST(floor(({this_year} - year_of_birth) / 10) AS INTEGER) * 10, 90) AS band,
                   count(*) AS n
            FROM person WHERE year_of_birth IS NOT NULL GROUP BY 1, 2 ORDER BY 2, 1""",
    )
    monthly = _all(
        cur,
        f"""SELECT strftime(date_trunc('month', visit_start_date), '%Y-%m') AS month, {_VISIT_KIND} AS kind,
                   count(*) AS n
            FROM visit_occurrence WHERE visit_start_date IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2""",
    )
    return {
        "counts": counts,
        "diagnoses": [{"code": r[0], "name": r[1] or "", "n": r[2], "persons": r[3]} for r in diagnoses],
        "departments": [{"name": r[0], "n": r[1]} for r in departments],
        "pyramid": [{"sex": r[0], "band": r[1], "n": r[2]} for r in pyramid],
        "monthly": [{"month": r[0], "kind": r[1], "n": r[2]} for r in monthly],
    }


def dashboard(reader: LakeReader) -> dict[str, Any]:
    def _compute(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        counts = {label: reader.lake.count(table) for label, table in COUNT_TABLES.items()}
        return compute(cur, counts)

    return reader.cached("dashboard", _compute)
