"""The dataset's SQL, built from the typed spec: fixed templates, every value a bound parameter.

Identifiers in the SQL are either fixed here or variable names validated by the spec
(``^[a-z][a-z0-9_]*$``); codes, ids, dates and windows only ever travel as ``$parameters``.
The base query yields ``person_id, index_date``; each variable is one CTE keyed by person_id,
left-joined to the base, so a person without any event still has a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medlake.export.spec import (
    CohortById,
    ConditionVar,
    DatasetSpec,
    Demographic,
    DrugVar,
    LabVar,
    NlpFactVar,
    PersonFilter,
    PersonList,
    ProcedureVar,
)

MALE, FEMALE = 8507, 8532


@dataclass
class Query:
    ctes: list[tuple[str, str]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str, value: Any) -> str:
        key = f"p_{name}"
        if key in self.params:
            raise ValueError(f"parameter {key} bound twice")
        self.params[key] = value
        return f"${key}"


def _q(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not an identifier: {name!r}")
    return f'"{name}"'


# -- cohort and index -------------------------------------------------------------------------------
def cohort_sql(spec: DatasetSpec, q: Query) -> str:
    c = spec.cohort
    if isinstance(c, CohortById):
        return (
            "SELECT CAST(subject_id AS BIGINT) AS person_id, min(cohort_start_date) AS cohort_start "
            f"FROM cohort WHERE cohort_definition_id = {q.param('cohort_id', c.cohort_definition_id)} GROUP BY 1"
        )
    if isinstance(c, PersonList):
        ids = q.param("person_ids", sorted(set(c.person_ids)))
        return (
            "SELECT p.person_id, CAST(NULL AS DATE) AS cohort_start FROM person p "
            f"WHERE list_contains(CAST({ids} AS BIGINT[]), p.person_id)"
        )
    assert isinstance(c, PersonFilter)
    gender = {None: None, "男": MALE, "女": FEMALE}[c.sex]
    src = {None: None, "男": "1", "女": "2"}[c.sex]
    conds = [
        f"({q.param('f_gender', gender)}::INTEGER IS NULL OR p.gender_concept_id = {q.param('f_gender2', gender)}"
        f" OR p.gender_source_value = {q.param('f_gsrc', src)})",
        f"({q.param('f_ymin', c.birth_year_min)}::INTEGER IS NULL OR p.year_of_birth >= {q.param('f_ymin2', c.birth_year_min)})",
        f"({q.param('f_ymax', c.birth_year_max)}::INTEGER IS NULL OR p.year_of_birth <= {q.param('f_ymax2', c.birth_year_max)})",
    ]
    if c.condition_codes:
        codes = q.param("f_codes", c.condition_codes)
        conds.append(
            "p.person_id IN (SELECT co.person_id FROM condition_occurrence co "
            f"JOIN (SELECT unnest(CAST({codes} AS VARCHAR[])) AS code) k "
            "ON starts_with(co.condition_source_value, k.code))"
        )
    return "SELECT p.person_id, CAST(NULL AS DATE) AS cohort_start FROM person p WHERE " + " AND ".join(conds)


def base_sql(spec: DatasetSpec, q: Query) -> str:
    q.ctes.append(("cohort_src", cohort_sql(spec, q)))
    ix = spec.index
    if ix.kind == "cohort_start":
        index = "c.cohort_start"
        join = ""
    elif ix.kind == "fixed":
        index = f"CAST({q.param('index_date', ix.date)} AS DATE)"
        join = ""
    elif ix.kind == "first_visit":
        index = "fv.d"
        join = (
            "LEFT JOIN (SELECT person_id, min(visit_start_date) AS d FROM visit_occurrence GROUP BY 1) fv "
            "ON fv.person_id = c.person_id"
        )
    else:
        codes = q.param("index_codes", ix.codes)
        index = "fc.d"
        join = (
            "LEFT JOIN (SELECT co.person_id, min(co.condition_start_date) AS d FROM condition_occurrence co "
            f"JOIN (SELECT unnest(CAST({codes} AS VARCHAR[])) AS code) k "
            "ON starts_with(co.condition_source_value, k.code) GROUP BY 1) fc ON fc.person_id = c.person_id"
        )
    return f"SELECT DISTINCT c.person_id, {index} AS index_date FROM cohort_src c {join}"


# -- variables --------------------------------------------------------------------------------------
_EVENTS = {
    # type: (table, date column, datetime column, code column, concept column)
    "condition": (
        "condition_occurrence",
        "condition_start_date",
        "condition_start_datetime",
        "condition_source_value",
        "condition_concept_id",
    ),
    "drug": (
        "drug_exposure",
        "drug_exposure_start_date",
        "drug_exposure_start_datetime",
        "drug_source_value",
        "drug_concept_id",
    ),
    "procedure": (
        "procedure_occurrence",
        "procedure_date",
        "procedure_datetime",
        "procedure_source_value",
        "procedure_concept_id",
    ),
    "lab": (
        "measurement",
        "measurement_date",
        "measurement_datetime",
        "measurement_source_value",
        "measurement_concept_id",
    ),
}


def _code_match(
    q: Query, name: str, codes: list[str], concept_ids: list[int], match: str, code_col: str, concept_col: str
) -> str:
    parts = []
    if codes:
        p = q.param(f"{name}_codes", codes)
        if match == "exact":
            parts.append(f"list_contains(CAST({p} AS VARCHAR[]), e.{code_col})")
        else:
            parts.append(
                f"list_bool_or(list_transform(CAST({p} AS VARCHAR[]), lambda k: starts_with(e.{code_col}, k)))"
            )
    if concept_ids:
        p = q.param(f"{name}_concepts", concept_ids)
        parts.append(f"list_contains(CAST({p} AS INTEGER[]), e.{concept_col})")
    return "(" + " OR ".join(parts) + ")"


def _window(q: Query, name: str, start: int, end: int, date_col: str) -> str:
    s, e = q.param(f"{name}_ws", start), q.param(f"{name}_we", end)
    return f"e.{date_col} BETWEEN b.index_date + CAST({s} AS INTEGER) AND b.index_date + CAST({e} AS INTEGER)"


def event_cte(v: ConditionVar | DrugVar | ProcedureVar | LabVar, q: Query) -> tuple[str, list[str]]:
    table, dcol, dtcol, ccol, kcol = _EVENTS[v.type]
    where = (
        _code_match(q, v.name, v.codes, v.concept_ids, v.match, ccol, kcol)
        + " AND "
        + _window(q, v.name, v.window.start_days, v.window.end_days, dcol)
    )
    ts = f"coalesce(e.{dtcol}, CAST(e.{dcol} AS TIMESTAMP))"
    if isinstance(v, LabVar):
        exprs = {
            "first": f"arg_min(e.value_as_number, {ts})",
            "last": f"arg_max(e.value_as_number, {ts})",
            "min": "min(e.value_as_number)",
            "max": "max(e.value_as_number)",
            "mean": "avg(e.value_as_number)",
            "count": "count(e.value_as_number)",
        }
        cols = [f"{v.name}_{s}" for s in v.stats]
        select = ", ".join(f"{exprs[s]} AS {_q(f'{v.name}_{s}')}" for s in v.stats)
    else:
        expr = {"flag": "true", "count": "count(*)", "first_date": f"min(e.{dcol})"}[v.output]
        cols = [v.name]
        select = f"{expr} AS {_q(v.name)}"
    sql = (
        f"SELECT b.person_id, {select} FROM base b JOIN {table} e ON e.person_id = b.person_id "
        f"WHERE {where} GROUP BY b.person_id"
    )
    return sql, cols


def nlp_cte(v: NlpFactVar, q: Query) -> tuple[str, list[str]]:
    parts = []
    if v.terms:
        parts.append(
            f"list_contains(CAST({q.param(v.name + '_terms', v.terms)} AS VARCHAR[]), x.lexical_variant)"
        )
    if v.concept_ids:
        parts.append(
            f"list_contains(CAST({q.param(v.name + '_concepts', v.concept_ids)} AS INTEGER[]), x.note_nlp_concept_id)"
        )
    where = (
        "("
        + " OR ".join(parts)
        + ") AND "
        + _window(q, v.name, v.window.start_days, v.window.end_days, "note_date")
    )
    if v.assertion == "present":
        where += " AND coalesce(x.term_exists, 'Y') = 'Y'"
    expr = "true" if v.output == "flag" else "count(*)"
    sql = (
        f"SELECT b.person_id, {expr} AS {_q(v.name)} FROM base b JOIN note e ON e.person_id = b.person_id "
        f"JOIN note_nlp x ON x.note_id = e.note_id WHERE {where} GROUP BY b.person_id"
    )
    return sql, [v.name]


_SEX = (
    f"CASE WHEN p.gender_concept_id = {MALE} OR p.gender_source_value IN ('1', 'M', '男') THEN '男' "
    f"WHEN p.gender_concept_id = {FEMALE} OR p.gender_source_value IN ('2', 'F', '女') THEN '女' ELSE '未知' END"
)
_BIRTH = "coalesce(CAST(p.birth_datetime AS DATE), make_date(p.year_of_birth, coalesce(p.month_of_birth, 7), coalesce(p.day_of_birth, 1)))"

DEMOGRAPHIC_SQL = {
    "age": f"CAST(date_sub('year', {_BIRTH}, b.index_date) AS INTEGER)",
    "sex": _SEX,
    "birth_date": _BIRTH,
    "birth_year": "p.year_of_birth",
    "city": "coalesce(l.city, reg.address)",
    "province": "coalesce(l.state, reg.address)",
    "address": "coalesce(reg.address, concat_ws('', l.state, l.city, l.address_1))",
    "ethnicity": "p.ethnicity_source_value",
    "death_date": "d.death_date",
    "registry_id": "coalesce(reg.src_person_id, p.person_source_value)",
}


def demographics_cte(vars_: list[Demographic]) -> tuple[str, list[str]]:
    select = ", ".join(f"{DEMOGRAPHIC_SQL[v.field]} AS {_q(v.name)}" for v in vars_)
    sql = (
        f"SELECT b.person_id, {select} FROM base b JOIN person p ON p.person_id = b.person_id "
        "LEFT JOIN location l ON l.location_id = p.location_id "
        "LEFT JOIN (SELECT person_id, min(death_date) AS death_date FROM death GROUP BY 1) d ON d.person_id = b.person_id "
        "LEFT JOIN (SELECT pl.person_id, min(sp.address) AS address, min(sp.src_person_id) AS src_person_id "
        "  FROM person_link pl JOIN source_person sp ON sp.src_system = pl.src_system "
        "  AND sp.src_person_id = pl.src_person_id WHERE pl.src_system = 'HIS' GROUP BY 1) reg "
        "ON reg.person_id = b.person_id"
    )
    return sql, [v.name for v in vars_]


def patients_query(spec: DatasetSpec) -> Query:
    """The query of the ``patients`` table (one row per person); its SQL is ``render(q)``."""
    q = Query()
    q.ctes.append(("base", base_sql(spec, q)))
    selects: list[str] = ["b.person_id", "b.index_date"]
    joins: list[str] = []
    exprs: dict[str, list[tuple[str, str]]] = {}  # variable -> [(column, expression)]
    demos = [v for v in spec.variables if isinstance(v, Demographic)]
    if demos:
        sql, _ = demographics_cte(demos)
        q.ctes.append(("v_demo", sql))
        joins.append("LEFT JOIN v_demo ON v_demo.person_id = b.person_id")
        for d in demos:
            exprs[d.name] = [(d.name, f"v_demo.{_q(d.name)}")]
    for i, var in enumerate(spec.variables):
        if isinstance(var, Demographic):
            continue
        v = var
        sql, cols = nlp_cte(v, q) if isinstance(v, NlpFactVar) else event_cte(v, q)
        alias = f"v{i}"
        q.ctes.append((alias, sql))
        joins.append(f"LEFT JOIN {alias} ON {alias}.person_id = b.person_id")
        output = getattr(v, "output", "")
        items = []
        for c in cols:
            if output == "flag":
                items.append((c, f"coalesce({alias}.{_q(c)}, false)"))
            elif output == "count" or c.endswith("_count"):
                items.append((c, f"coalesce({alias}.{_q(c)}, 0)"))
            else:
                items.append((c, f"{alias}.{_q(c)}"))
        exprs[v.name] = items
    for var in spec.variables:
        selects.extend(f"{expr} AS {_q(c)}" for c, expr in exprs[var.name])
    q.ctes.append(("final", f"SELECT {', '.join(selects)} FROM base b {' '.join(joins)}"))
    return q


def notes_query(spec: DatasetSpec) -> Query:
    assert spec.notes is not None
    q = Query()
    q.ctes.append(("base", base_sql(spec, q)))
    n = spec.notes
    where = _window(q, "notes", n.window.start_days, n.window.end_days, "note_date")
    if n.doc_types:
        where += (
            f" AND list_contains(CAST({q.param('doc_types', n.doc_types)} AS VARCHAR[]), e.note_source_value)"
        )
    q.ctes.append(
        (
            "final",
            "SELECT e.person_id, CAST(e.note_id AS VARCHAR) AS note_id, e.note_date, e.note_source_value AS doc_type, "
            f"e.note_title, e.note_text FROM base b JOIN note e ON e.person_id = b.person_id WHERE {where} "
            f"QUALIFY row_number() OVER (PARTITION BY e.person_id ORDER BY e.note_date, e.note_id) <= "
            f"{q.param('max_notes', n.max_per_person)}",
        )
    )
    return q


def registry_query(spec: DatasetSpec) -> Query:
    """The cohort's registry identities (names, ids, phones, addresses) for the scrubber and the gate."""
    q = Query()
    q.ctes.append(("base", base_sql(spec, q)))
    q.ctes.append(
        (
            "final",
            "SELECT pl.person_id, sp.src_person_id, sp.name, sp.resident_id, sp.phone, sp.address "
            "FROM person_link pl JOIN source_person sp ON sp.src_system = pl.src_system "
            "AND sp.src_person_id = pl.src_person_id WHERE pl.person_id IN (SELECT person_id FROM base)",
        )
    )
    return q


def render(q: Query, *, limit: int | None = None) -> str:
    body = ",\n".join(f"{name} AS ({sql})" for name, sql in q.ctes)
    tail = "SELECT * FROM final ORDER BY person_id"
    if limit is not None:
        tail += f" LIMIT {int(limit)}"
    return f"WITH {body}\n{tail}"
