"""The feature catalogue: each feature kind of the task spec as one DuckDB query over the lake.

This is the one place where model SQL lives. Queries read an index relation ``_idx(row_id,
person_id, index_date, index_ts)`` registered by the caller and return ``(row_id, value)``.
Table and column names come from the fixed ``DOMAINS`` map below; every user-supplied value
(codes, concept ids, window days, thresholds) is a bound parameter, never SQL text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from medlake.models.spec import (
    Codes,
    ConditionFeature,
    DemographicFeature,
    DrugFeature,
    Feature,
    MeasurementFeature,
    NlpFeature,
    NoteTextFeature,
    NoteValueFeature,
    Outcome,
    ProcedureFeature,
    TimeToFeature,
    VariableFeature,
    Window,
)


@dataclass(frozen=True)
class Domain:
    table: str
    date: str
    ts: str
    code: str
    concept: str
    value: str | None = None


DOMAINS: dict[str, Domain] = {
    "condition": Domain(
        "condition_occurrence",
        "condition_start_date",
        "condition_start_datetime",
        "condition_source_value",
        "condition_concept_id",
    ),
    "procedure": Domain(
        "procedure_occurrence",
        "procedure_date",
        "procedure_datetime",
        "procedure_source_value",
        "procedure_concept_id",
    ),
    "drug": Domain(
        "drug_exposure",
        "drug_exposure_start_date",
        "drug_exposure_start_datetime",
        "drug_source_value",
        "drug_concept_id",
        "quantity",
    ),
    "measurement": Domain(
        "measurement",
        "measurement_date",
        "measurement_datetime",
        "measurement_source_value",
        "measurement_concept_id",
        "value_as_number",
    ),
    "observation": Domain(
        "observation",
        "observation_date",
        "observation_datetime",
        "observation_source_value",
        "observation_concept_id",
        "value_as_number",
    ),
}


def split_codes(match: Codes) -> tuple[list[str], list[str], list[int]]:
    """Exact codes, prefixes (codes ending in ``*``) and concept ids."""
    exact = [c for c in match.codes if not c.endswith("*")]
    prefixes = [c[:-1] for c in match.codes if c.endswith("*")]
    return exact, prefixes, list(match.concept_ids)


def code_predicate(code_col: str, concept_col: str, match: Codes) -> tuple[str, list[Any]]:
    """``(sql, params)`` true when the row's code matches; one bound list parameter per kind used."""
    exact, prefixes, concepts = split_codes(match)
    parts: list[str] = []
    params: list[Any] = []
    if exact:
        parts.append(f"list_contains(?::VARCHAR[], {code_col})")
        params.append(exact)
    if prefixes:
        parts.append(f"len(list_filter(?::VARCHAR[], lambda p: starts_with({code_col}, p))) > 0")
        params.append(prefixes)
    if concepts:
        parts.append(f"list_contains(?::INTEGER[], {concept_col})")
        params.append(concepts)
    return "(" + " OR ".join(parts) + ")", params


def _window(date_col: str, window: Window) -> tuple[str, list[Any]]:
    return (
        f"{date_col} BETWEEN i.index_date + CAST(? AS INTEGER) AND i.index_date + CAST(? AS INTEGER)",
        [window.start_days, window.end_days],
    )


_AGG = {
    "last": "arg_max({v}, {ts})",
    "first": "arg_min({v}, {ts})",
    "min": "min({v})",
    "max": "max({v})",
    "mean": "avg({v})",
    "count": "count(*)",
}


def _domain_query(domain: Domain, match: Codes, window: Window, value: str) -> tuple[str, list[Any]]:
    pred, p1 = code_predicate(f"e.{domain.code}", f"e.{domain.concept}", match)
    win, p2 = _window(f"e.{domain.date}", window)
    sql = (
        f"SELECT i.row_id, {value} AS value FROM _idx i JOIN {domain.table} e ON e.person_id = i.person_id "
        f"WHERE {pred} AND {win} GROUP BY i.row_id"
    )
    return sql, p1 + p2


def _ts(domain: Domain) -> str:
    return f"coalesce(e.{domain.ts}, CAST(e.{domain.date} AS TIMESTAMP))"


def feature_query(feature: Feature) -> tuple[str, list[Any]]:
    """The ``(sql, params)`` computing one feature for every index row that has a value."""
    if isinstance(feature, DemographicFeature):
        birth = _BIRTH
        exprs = {
            "age_years": f"date_diff('day', {birth}, i.index_ts) / 365.25",
            "age_days": f"date_diff('day', {birth}, i.index_ts)",
            "sex_male": "CASE p.gender_concept_id WHEN 8507 THEN 1.0 WHEN 8532 THEN 0.0 END",
        }
        sql = (
            f"SELECT i.row_id, any_value({exprs[feature.field]}) AS value FROM _idx i "
            f"JOIN person p ON p.person_id = i.person_id GROUP BY i.row_id"
        )
        return sql, []
    if isinstance(feature, ConditionFeature | ProcedureFeature | DrugFeature):
        domain = DOMAINS[feature.kind]
        return _domain_query(domain, feature.match, feature.window, "1.0")
    if isinstance(feature, MeasurementFeature | VariableFeature):
        domain = DOMAINS["measurement" if isinstance(feature, MeasurementFeature) else "observation"]
        value = _AGG[feature.agg].format(v=f"e.{domain.value}", ts=_ts(domain))
        if feature.agg != "count":
            value = f"CAST({value} AS DOUBLE)"
        return _domain_query(domain, feature.match, feature.window, value)
    if isinstance(feature, NlpFeature):
        return _nlp_query(feature)
    if isinstance(feature, NoteTextFeature):
        return _note_text_query(feature)
    if isinstance(feature, NoteValueFeature):
        return _note_value_query(feature)
    if isinstance(feature, TimeToFeature):
        domain = DOMAINS[feature.domain]
        value = f"date_diff('minute', any_value(i.index_ts), min({_ts(domain)})) / 60.0"
        return _domain_query(domain, feature.match, feature.window, value)
    raise TypeError(f"unknown feature kind {type(feature).__name__}")


def _nlp_query(feature: NlpFeature) -> tuple[str, list[Any]]:
    code, p1 = code_predicate("n.concept_code", "n.note_nlp_concept_id", feature.match)
    lex, p2 = code_predicate("n.lexical_variant", "n.note_nlp_source_concept_id", feature.match)
    win, p3 = _window("coalesce(n.term_date, t.note_date)", feature.window)
    ts = "coalesce(CAST(n.term_date AS TIMESTAMP), t.note_datetime, CAST(t.note_date AS TIMESTAMP))"
    if feature.value == "present":
        value = "1.0"
    elif feature.agg == "count":
        value = "CAST(count(n.value_as_number) AS DOUBLE)"
    else:
        value = f"CAST({_AGG[feature.agg].format(v='n.value_as_number', ts=ts)} AS DOUBLE)"
    number = "" if feature.value == "present" else " AND n.value_as_number IS NOT NULL"
    sql = (
        "SELECT i.row_id, "
        f"{value} AS value FROM _idx i JOIN note_nlp n ON n.person_id = i.person_id "
        "LEFT JOIN note t ON t.note_id = n.note_id "
        f"WHERE ({code} OR {lex}) AND coalesce(n.assertion, 'present') = 'present'{number} AND {win} "
        "GROUP BY i.row_id"
    )
    return sql, p1 + p2 + p3


def _note_text_query(feature: NoteTextFeature) -> tuple[str, list[Any]]:
    win, p = _window("t.note_date", feature.window)
    sql = (
        "SELECT i.row_id, 1.0 AS value FROM _idx i JOIN note t ON t.person_id = i.person_id "
        "WHERE len(list_filter(?::VARCHAR[], lambda s: contains(t.note_text, s))) > 0 "
        f"AND {win} GROUP BY i.row_id"
    )
    return sql, [list(feature.phrases), *p]


def note_value_pattern(feature: NoteValueFeature) -> str:
    """The RE2 pattern (label, gap, number, unit) a note-value feature looks for; text escaped."""
    unit = r"\s*" + re.escape(feature.unit) if feature.unit else ""
    return re.escape(feature.label) + f"[^0-9]{{0,{feature.max_gap}}}?" + r"([0-9]+(?:\.[0-9]+)?)" + unit


def _note_value_query(feature: NoteValueFeature) -> tuple[str, list[Any]]:
    win, p = _window("t.note_date", feature.window)
    ts = "coalesce(t.note_datetime, CAST(t.note_date AS TIMESTAMP))"
    value = _AGG[feature.agg].format(v="v", ts="ts")
    sql = (
        f"SELECT row_id, CAST({value} AS DOUBLE) AS value FROM ("
        f"SELECT row_id, ts, TRY_CAST(s AS DOUBLE) AS v FROM ("
        f"SELECT i.row_id, {ts} AS ts, unnest(regexp_extract_all(t.note_text, ?, 1)) AS s "
        "FROM _idx i JOIN note t ON t.person_id = i.person_id "
        f"WHERE {win} AND (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], t.note_source_value)))) "
        "WHERE v IS NOT NULL GROUP BY row_id"
    )
    kinds = list(feature.note_kinds)
    return sql, [note_value_pattern(feature), *p, kinds, kinds]


def outcome_query(outcome: Outcome) -> tuple[str, list[Any]]:
    """``(sql, params)`` giving ``row_id`` of every index row whose outcome happened in time at risk."""
    if outcome.domain == "death":
        win, p = _window("d.death_date", outcome.time_at_risk)
        return (
            f"SELECT DISTINCT i.row_id FROM _idx i JOIN death d ON d.person_id = i.person_id WHERE {win}",
            p,
        )
    assert outcome.match is not None
    domain = DOMAINS[outcome.domain]
    pred, p1 = code_predicate(f"e.{domain.code}", f"e.{domain.concept}", outcome.match)
    win, p2 = _window(f"e.{domain.date}", outcome.time_at_risk)
    extra, p3 = "", []
    if outcome.value_above is not None and domain.value:
        extra += f" AND e.{domain.value} > ?"
        p3.append(outcome.value_above)
    if outcome.value_below is not None and domain.value:
        extra += f" AND e.{domain.value} < ?"
        p3.append(outcome.value_below)
    sql = (
        f"SELECT DISTINCT i.row_id FROM _idx i JOIN {domain.table} e ON e.person_id = i.person_id "
        f"WHERE {pred} AND {win}{extra}"
    )
    return sql, p1 + p2 + p3


_BIRTH = (
    "coalesce(p.birth_datetime, make_timestamp(p.year_of_birth, coalesce(p.month_of_birth, 7), "
    "coalesce(p.day_of_birth, 1), 0, 0, 0))"
)


def index_event_query(
    domain_name: str, match: Codes, occurrence: str, min_age: float | None, max_age: float | None
) -> tuple[str, list[Any]]:
    """``(sql, params)`` giving ``person_id, index_date, index_ts`` for an index-event data source."""
    domain = DOMAINS[domain_name]
    pred, params = code_predicate(f"e.{domain.code}", f"e.{domain.concept}", match)
    order = "ASC" if occurrence == "first" else "DESC"
    ts = _ts(domain)
    ages = ""
    if min_age is not None:
        ages += f" AND date_diff('day', {_BIRTH}, {ts}) / 365.25 >= ?"
        params.append(min_age)
    if max_age is not None:
        ages += f" AND date_diff('day', {_BIRTH}, {ts}) / 365.25 <= ?"
        params.append(max_age)
    sql = (
        "SELECT person_id, index_date, index_ts FROM ("
        f"SELECT e.person_id, e.{domain.date} AS index_date, {ts} AS index_ts, "
        f"row_number() OVER (PARTITION BY e.person_id ORDER BY {ts} {order}) AS rn "
        f"FROM {domain.table} e JOIN person p ON p.person_id = e.person_id WHERE {pred}{ages}"
        ") WHERE rn = 1 ORDER BY person_id"
    )
    return sql, params


def cohort_query(cohort_definition_id: int) -> tuple[str, list[Any]]:
    sql = (
        "SELECT subject_id AS person_id, min(cohort_start_date) AS index_date, "
        "CAST(min(cohort_start_date) AS TIMESTAMP) AS index_ts FROM cohort "
        "WHERE cohort_definition_id = ? GROUP BY subject_id ORDER BY subject_id"
    )
    return sql, [cohort_definition_id]


def person_index_query(domain_name: str, match: Codes) -> tuple[str, list[Any]]:
    """The latest index event of one person (bound ``person_id`` last), for decision support."""
    domain = DOMAINS[domain_name]
    pred, params = code_predicate(f"e.{domain.code}", f"e.{domain.concept}", match)
    ts = _ts(domain)
    sql = (
        f"SELECT e.{domain.date} AS index_date, {ts} AS index_ts FROM {domain.table} e "
        f"WHERE {pred} AND e.person_id = ? ORDER BY {ts} DESC LIMIT 1"
    )
    return sql, params
