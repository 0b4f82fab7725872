"""Patient search (identified data) and the patient 360 timeline, read from the lake.

Every event carries its source system (``src_system``) so a clinician sees where a fact came
from. The SQL is fixed text with bound parameters; user input never becomes SQL.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import duckdb

from medlake.errors import NotFound
from medlake.web.storage.lake_reader import LakeReader

SEARCH_LIMIT = 50
TIMELINE_INDEX = "timeline"
LAB_CHARTS = 8

_SEARCH_SQL = """
WITH ids AS (
    SELECT sp.src_system, sp.src_person_id, sp.name, sp.sex, sp.birth_date,
           coalesce(pl.person_id, p.person_id) AS person_id
    FROM source_person sp
    LEFT JOIN person_link pl ON pl.src_system = sp.src_system AND pl.src_person_id = sp.src_person_id
    LEFT JOIN person p ON p.person_source_value = sp.src_person_id
    WHERE sp.src_person_id = $q OR sp.name LIKE '%' || $q || '%' OR CAST(coalesce(pl.person_id, p.person_id) AS VARCHAR) = $q
)
SELECT person_id, any_value(name) AS name, any_value(sex) AS sex, any_value(birth_date) AS birth_date,
       string_agg(DISTINCT src_system || ':' || src_person_id, ', ') AS source_ids
FROM ids WHERE person_id IS NOT NULL GROUP BY person_id
UNION ALL
SELECT p.person_id, NULL, p.gender_source_value, CAST(p.birth_datetime AS DATE), p.person_source_value
FROM person p WHERE CAST(p.person_id AS VARCHAR) = $q
    AND NOT EXISTS (SELECT 1 FROM source_person sp WHERE sp.src_person_id = p.person_source_value)
ORDER BY person_id LIMIT {limit}
"""

_EVENTS_UNION = """
SELECT * FROM (
    SELECT v.person_id, coalesce(v.visit_start_datetime, CAST(v.visit_start_date AS TIMESTAMP)) AS ts, 'visit' AS kind,
           v.visit_source_value AS code, cs.care_site_name AS label, NULL::DOUBLE AS value, NULL AS unit,
           NULL AS flag, v.src_system, NULL::BIGINT AS ref
    FROM visit_occurrence v LEFT JOIN care_site cs ON cs.care_site_id = v.care_site_id WHERE v.person_id {cond}
    UNION ALL
    SELECT c.person_id, coalesce(c.condition_start_datetime, CAST(c.condition_start_date AS TIMESTAMP)), 'condition',
           c.condition_source_value, k.concept_name, NULL, NULL, c.condition_status_source_value, c.src_system, NULL
    FROM condition_occurrence c LEFT JOIN concept k ON k.concept_id = c.condition_source_concept_id
    WHERE c.person_id {cond}
    UNION ALL
    SELECT d.person_id, coalesce(d.drug_exposure_start_datetime, CAST(d.drug_exposure_start_date AS TIMESTAMP)), 'drug',
           d.drug_source_value, coalesce(k.concept_name, d.sig), d.quantity, d.dose_unit_source_value,
           d.route_source_value, d.src_system, NULL
    FROM drug_exposure d LEFT JOIN concept k ON k.concept_id = d.drug_source_concept_id WHERE d.person_id {cond}
    UNION ALL
    SELECT p.person_id, coalesce(p.procedure_datetime, CAST(p.procedure_date AS TIMESTAMP)), 'procedure',
           p.procedure_source_value, k.concept_name, NULL, NULL, NULL, p.src_system, NULL
    FROM procedure_occurrence p LEFT JOIN concept k ON k.concept_id = p.procedure_source_concept_id
    WHERE p.person_id {cond}
    UNION ALL
    SELECT m.person_id, coalesce(m.measurement_datetime, CAST(m.measurement_date AS TIMESTAMP)), 'measurement',
           m.measurement_source_value, coalesce(k.concept_name, m.value_source_value),
           m.value_as_number, m.unit_source_value, m.abnormal_flag, m.src_system, NULL
    FROM measurement m
    LEFT JOIN concept k ON k.concept_id = coalesce(m.measurement_source_concept_id, m.measurement_concept_id)
    WHERE m.person_id {cond}
    UNION ALL
    SELECT o.person_id, coalesce(o.observation_datetime, CAST(o.observation_date AS TIMESTAMP)), 'observation',
           o.observation_source_value, o.value_as_string, o.value_as_number, o.unit_source_value, NULL, o.src_system, NULL
    FROM observation o WHERE o.person_id {cond}
    UNION ALL
    SELECT n.person_id, coalesce(n.note_datetime, CAST(n.note_date AS TIMESTAMP)), 'note', n.note_source_value,
           coalesce(n.note_title, '') || ': ' || left(coalesce(n.note_text, ''), 240), NULL, NULL, NULL, n.src_system, n.note_id
    FROM note n WHERE n.person_id {cond}
    UNION ALL
    SELECT i.person_id, CAST(i.image_occurrence_date AS TIMESTAMP), 'image', i.modality,
           coalesce(i.study_description, '') || ' ' || coalesce(i.series_description, ''),
           i.instance_count, NULL, i.accession_number, i.src_system, NULL
    FROM image_occurrence i WHERE i.person_id {cond}
    UNION ALL
    SELECT d.person_id, coalesce(d.death_datetime, CAST(d.death_date AS TIMESTAMP)), 'death', d.cause_source_value, NULL,
           NULL, NULL, NULL, d.src_system, NULL
    FROM death d WHERE d.person_id {cond}
)
"""

PERSON_INDEX = "person"
IDENTITY_INDEX = "identity"
_PERSON_SQL = """SELECT person_id, gender_source_value, year_of_birth, birth_datetime, person_source_value, src_system
                 FROM person"""
# every source identity of a person: linked by the MPI, or the person's own source id
_IDENTITY_SQL = """SELECT DISTINCT x.person_id, sp.src_system, sp.src_person_id, sp.name, sp.sex, sp.birth_date
    FROM (SELECT person_id, src_system, src_person_id, FALSE AS any_system FROM person_link
          UNION ALL SELECT person_id, NULL, person_source_value, TRUE FROM person) x
    JOIN source_person sp ON sp.src_person_id = x.src_person_id AND (x.any_system OR sp.src_system = x.src_system)"""

# ref: the row id a page can link to (note_id for notes, else NULL)
_EVENT_COLUMNS = ("ts", "kind", "code", "label", "value", "unit", "flag", "src_system", "ref")
_ORDER = "ORDER BY ts NULLS LAST, kind, code, label"


def events_sql(*, one_person: bool) -> str:
    """Every event of one person (``$pid``), or of everyone (to build the timeline index)."""
    return _EVENTS_UNION.format(cond="= $pid" if one_person else "IS NOT NULL")


def timeline_index_sql() -> str:
    """Every event of everyone, sorted by person: a lookup in the derived table reads one row group."""
    return f"SELECT * FROM ({events_sql(one_person=False)}) ORDER BY person_id, ts"


def person_events(cur: duckdb.DuckDBPyConnection, person_id: int, index: str | None) -> list[dict[str, Any]]:
    """Events from the person-sorted timeline index when it is built, else from the lake tables."""
    cols = ", ".join(_EVENT_COLUMNS)
    if index is not None:
        sql = f"SELECT {cols} FROM {index} WHERE person_id = $pid {_ORDER}"
    else:
        sql = f"SELECT {cols} FROM ({events_sql(one_person=True)}) {_ORDER}"
    return [
        dict(zip(_EVENT_COLUMNS, row, strict=True)) for row in cur.execute(sql, {"pid": person_id}).fetchall()
    ]


def search(reader: LakeReader, query: str, *, limit: int = SEARCH_LIMIT) -> list[dict[str, Any]]:
    q = query.strip()
    if not q:
        return []
    return reader.rows(_SEARCH_SQL.format(limit=int(limit)), {"q": q})


def _source(reader: LakeReader, name: str, sql: str) -> str:
    """The derived (person-sorted) table when built, else the query over the lake as a subquery."""
    index = reader.derived(name, f"{sql} ORDER BY person_id")
    return index if index is not None else f"({sql})"


def warm_indexes(reader: LakeReader, *, wait: bool = False) -> bool:
    """Start (or with ``wait``, finish) building the person-sorted indexes; True when all are ready."""
    ready = [
        reader.derived(PERSON_INDEX, f"{_PERSON_SQL} ORDER BY person_id", wait=wait),
        reader.derived(IDENTITY_INDEX, f"{_IDENTITY_SQL} ORDER BY person_id", wait=wait),
        reader.derived(TIMELINE_INDEX, timeline_index_sql(), wait=wait),
    ]
    return all(r is not None for r in ready)


def timeline(reader: LakeReader, person_id: int) -> dict[str, Any]:
    """The person, their source identities and every event in time order, plus lab series."""
    persons = _source(reader, PERSON_INDEX, _PERSON_SQL)
    identities_from = _source(reader, IDENTITY_INDEX, _IDENTITY_SQL)
    events_index = reader.derived(TIMELINE_INDEX, timeline_index_sql())
    cur = reader.cursor()
    try:
        person = cur.execute(
            f"SELECT * FROM {persons} WHERE person_id = $pid LIMIT 1", {"pid": person_id}
        ).fetchone()
        if person is None:
            raise NotFound(f"no patient {person_id}")
        identities = cur.execute(
            f"""SELECT src_system, src_person_id, name, sex, birth_date FROM {identities_from}
                WHERE person_id = $pid ORDER BY 1, 2""",
            {"pid": person_id},
        ).fetchall()
        events = person_events(cur, person_id, events_index)
    finally:
        cur.close()
    return {
        "person": {
            "person_id": person[0],
            "sex": person[1],
            "sex_code": sex_code(person[1]),
            "year_of_birth": person[2],
            "birth_datetime": person[3],
            "person_source_value": person[4],
            "src_system": person[5],
        },
        "identities": [
            {"src_system": r[0], "src_person_id": r[1], "name": r[2], "sex": r[3], "birth_date": r[4]}
            for r in identities
        ],
        "events": events,
        "labs": lab_series(events),
    }


def sex_code(value: str | None) -> str:
    """GB/T 2261.1 (1/2) or M/F source values as M, F or U."""
    v = (value or "").strip().upper()
    return "M" if v in ("1", "M", "MALE") else "F" if v in ("2", "F", "FEMALE") else "U"


def lab_series(events: list[dict[str, Any]]) -> dict[str, list[tuple[str, float]]]:
    """Numeric measurements grouped per lab code (the most frequent ``LAB_CHARTS`` labs)."""
    series: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for e in events:
        if e["kind"] == "measurement" and e["value"] is not None and e["ts"] is not None and e["code"]:
            name = f"{e['code']} {e['label']}" if e["label"] and e["label"] != e["code"] else str(e["code"])
            series[name].append((e["ts"].isoformat(), float(e["value"])))
    trends = [k for k in series if len(series[k]) >= 2]  # one value is not a trend
    top = sorted(trends, key=lambda k: (-len(series[k]), k))[:LAB_CHARTS]
    return {k: series[k] for k in top}
