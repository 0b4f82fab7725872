"""SQL for medlake's own criterion domains (the ``medlake.*`` criteria of native definitions).

Each builder returns the uniform event SELECT (see ``medlake.cohort.domains``) for one typed
criterion of ``medlake.cohort.model``. ICD-10 codes match as prefixes of the source code and,
through the concept table, every descendant of a matching concept; lab codes, units, flags and
texts are compared as literals (STRPOS, never LIKE patterns built from user text).
"""

from __future__ import annotations

from pydantic import TypeAdapter

from medlake.cohort import model as m
from medlake.cohort.circe.model import Criterion as IrCriterion
from medlake.cohort.domains import Ctx, register_domain
from medlake.cohort.sqlbuild import Params, dateadd

_ADAPTER: TypeAdapter[m.Criterion] = TypeAdapter(m.Criterion)  # type: ignore[arg-type]
VISIT_CONCEPTS = {"inpatient": 9201, "outpatient": 9202, "emergency": 9203}
ASSERTED = ("present", "possible")


def _ids(values: list[int], p: Params) -> str:
    return ", ".join(p.add(int(v)) for v in values)


def _strs(values: list[str], p: Params) -> str:
    return ", ".join(p.add(v) for v in values)


def _like_prefix(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _prefix_any(col: str, prefixes: list[str], p: Params, *, upper: bool = True) -> str:
    """``col`` starts with one of ``prefixes`` (LIKE with wildcards escaped, so it stays a prefix test)."""
    vals = [x.upper() if upper else x for x in prefixes]
    return "(" + " OR ".join(f"{col} LIKE {p.add(_like_prefix(x))} ESCAPE '\\'" for x in vals) + ")"


def _contains_any(col: str, texts: list[str], p: Params) -> str:
    return "(" + " OR ".join(f"STRPOS({col}, {p.add(x)}) > 0" for x in texts) + ")"


def _in_descendants(col: str, ids: list[int], p: Params) -> str:
    """``col`` is one of ``ids`` or a descendant of one (concept_ancestor)."""
    lst = _ids(ids, p)
    return (
        f"({col} IN ({lst}) OR {col} IN (SELECT descendant_concept_id FROM concept_ancestor "
        f"WHERE ancestor_concept_id IN ({lst})))"
    )


def _event(
    person: str,
    eid: str,
    start: str,
    end: str,
    visit: str,
    concept: str,
    source: str,
    where: list[str],
    persons: str | None = None,
) -> str:
    if persons:
        where = [*where, f"{person} IN (SELECT PF.person_id FROM {persons} PF)"]
    return (
        f"SELECT CAST({person} AS BIGINT) AS person_id, CAST({eid} AS BIGINT) AS event_id, CAST({start} AS DATE) AS start_date, "
        f"CAST({end} AS DATE) AS end_date, CAST({visit} AS BIGINT) AS visit_occurrence_id, "
        f"CAST({concept} AS BIGINT) AS domain_concept_id, CAST({start} AS DATE) AS sort_date FROM {source}"
        + (f" WHERE {' AND '.join(where)}" if where else "")
    )


def condition_sql(c: m.ConditionCriterion, p: Params, persons: str | None) -> str:
    end = f"COALESCE(C.condition_end_date, {dateadd('1', 'C.condition_start_date')})"
    common = []
    if c.diagnosis_type:
        common.append(f"C.condition_status_source_value IN ({_strs(c.diagnosis_type, p)})")
    if persons:
        common.append(f"C.person_id IN (SELECT PF.person_id FROM {persons} PF)")
    branches = []
    if c.icd10:
        branches.append(_prefix_any("C.condition_source_value", c.icd10, p))
        icd_concepts = f"SELECT concept_id FROM concept WHERE vocabulary_id LIKE 'ICD10%' AND {_prefix_any('concept_code', c.icd10, p)}"
        branches.append(
            f"C.condition_source_concept_id IN ({icd_concepts} UNION SELECT descendant_concept_id FROM concept_ancestor "
            f"WHERE ancestor_concept_id IN ({icd_concepts}))"
        )
    if c.concept_ids:
        branches.append(_in_descendants("C.condition_concept_id", c.concept_ids, p))
    selects = [
        _event(
            "C.person_id",
            "C.condition_occurrence_id",
            "C.condition_start_date",
            end,
            "C.visit_occurrence_id",
            "C.condition_concept_id",
            "condition_occurrence C",
            [b, *common],
        )
        for b in branches
    ]
    return selects[0] if len(selects) == 1 else "SELECT * FROM (" + " UNION ".join(selects) + ") CU"


def measurement_sql(c: m.MeasurementCriterion, p: Params, persons: str | None) -> str:
    where = []
    codes = []
    if c.codes:
        codes.append(f"C.measurement_source_value IN ({_strs(c.codes, p)})")
    if c.concept_ids:
        codes.append(_in_descendants("C.measurement_concept_id", c.concept_ids, p))
    if codes:
        where.append("(" + " OR ".join(codes) + ")")
    if c.value_min is not None:
        where.append(f"C.value_as_number >= {p.add(c.value_min)}")
    if c.value_max is not None:
        where.append(f"C.value_as_number <= {p.add(c.value_max)}")
    if c.unit:
        where.append(f"C.unit_source_value IN ({_strs(c.unit, p)})")
    if c.abnormal:
        where.append(f"C.abnormal_flag IN ({_strs(c.abnormal, p)})")
    if c.value_text:
        where.append(_prefix_any("C.value_source_value", c.value_text, p))
    return _event(
        "C.person_id",
        "C.measurement_id",
        "C.measurement_date",
        dateadd("1", "C.measurement_date"),
        "C.visit_occurrence_id",
        "C.measurement_concept_id",
        "measurement C",
        where,
        persons=persons,
    )


def drug_sql(c: m.DrugCriterion, p: Params, persons: str | None) -> str:
    ors = []
    if c.codes:
        ors.append(f"C.drug_source_value IN ({_strs(c.codes, p)})")
    if c.concept_ids:
        ors.append(_in_descendants("C.drug_concept_id", c.concept_ids, p))
    end = (
        f"COALESCE(C.drug_exposure_end_date, {dateadd('C.days_supply', 'C.drug_exposure_start_date')}, "
        f"{dateadd('1', 'C.drug_exposure_start_date')})"
    )
    return _event(
        "C.person_id",
        "C.drug_exposure_id",
        "C.drug_exposure_start_date",
        end,
        "C.visit_occurrence_id",
        "C.drug_concept_id",
        "drug_exposure C",
        ["(" + " OR ".join(ors) + ")"] if ors else [],
        persons=persons,
    )


def procedure_sql(c: m.ProcedureCriterion, p: Params, persons: str | None) -> str:
    ors = []
    if c.codes:
        ors.append(_prefix_any("C.procedure_source_value", c.codes, p))
    if c.concept_ids:
        ors.append(_in_descendants("C.procedure_concept_id", c.concept_ids, p))
    end = f"COALESCE(C.procedure_end_date, {dateadd('1', 'C.procedure_date')})"
    return _event(
        "C.person_id",
        "C.procedure_occurrence_id",
        "C.procedure_date",
        end,
        "C.visit_occurrence_id",
        "C.procedure_concept_id",
        "procedure_occurrence C",
        ["(" + " OR ".join(ors) + ")"] if ors else [],
        persons=persons,
    )


def visit_sql(c: m.VisitCriterion, p: Params, persons: str | None) -> str:
    where = []
    if c.visit_type:
        where.append(f"C.visit_concept_id IN ({_ids([VISIT_CONCEPTS[v] for v in c.visit_type], p)})")
    if c.department:
        names = _strs(c.department, p)
        where.append(
            f"C.care_site_id IN (SELECT care_site_id FROM care_site WHERE care_site_name IN ({names}) "
            f"OR care_site_source_value IN ({names}))"
        )
    end = "COALESCE(C.visit_end_date, C.visit_start_date)"
    return _event(
        "C.person_id",
        "C.visit_occurrence_id",
        "C.visit_start_date",
        end,
        "C.visit_occurrence_id",
        "C.visit_concept_id",
        "visit_occurrence C",
        where,
        persons=persons,
    )


def _nlp_match(entity: list[str], code: list[str], p: Params, alias: str = "N") -> list[str]:
    ors = []
    if entity:
        lst = _strs(entity, p)
        ors.append(f"({alias}.lexical_variant IN ({lst}) OR {alias}.concept_name IN ({lst}))")
    if code:
        ors.append(_prefix_any(f"{alias}.concept_code", code, p))
    return ["(" + " OR ".join(ors) + ")"] if ors else []


def nlp_sql(c: m.NlpCriterion, p: Params, persons: str | None) -> str:
    where = _nlp_match(c.entity, c.code, p)
    if c.entity_type:
        where.append(f"N.entity_type IN ({_strs(c.entity_type, p)})")
    if c.assertion:
        where.append(f"N.assertion IN ({_strs(list(c.assertion), p)})")
    if persons:  # filter the facts before the join with note (NLP facts carry person_id in medlake)
        where.append(f"(N.person_id IN (SELECT PF.person_id FROM {persons} PF) OR N.person_id IS NULL)")
    start = "COALESCE(N.term_date, NT.note_date, N.nlp_date)"
    return _event(
        "COALESCE(N.person_id, NT.person_id)",
        "N.note_nlp_id",
        start,
        dateadd("1", start),
        "NT.visit_occurrence_id",
        "N.note_nlp_concept_id",
        "note_nlp N LEFT JOIN note NT ON NT.note_id = N.note_id",
        where,
        persons=persons,
    )


def imaging_sql(c: m.ImagingCriterion, p: Params, persons: str | None) -> str:
    where = []
    if c.modality:
        where.append(f"UPPER(I.modality) IN ({_strs([x.upper() for x in c.modality], p)})")
    if c.body_part:
        parts = _strs([x.upper() for x in c.body_part], p)
        where.append(
            f"(UPPER(I.anatomic_site_source_value) IN ({parts}) OR I.image_series_uid IN "
            f"(SELECT image_series_uid FROM image_series_meta WHERE UPPER(body_part_examined) IN ({parts})))"
        )
    source = "image_occurrence I"
    if c.finding:
        source += " JOIN note R ON R.note_id = I.note_id"
        where.append(_contains_any("R.note_text", c.finding, p))
    if c.finding_nlp:
        match = " AND ".join(_nlp_match(c.finding_nlp, c.finding_nlp, p, "FN"))
        where.append(
            f"I.note_id IN (SELECT FN.note_id FROM note_nlp FN WHERE {match} "
            f"AND FN.assertion IN ({_strs(list(ASSERTED), p)}))"
        )
    return _event(
        "I.person_id",
        "I.image_occurrence_id",
        "I.image_occurrence_date",
        dateadd("1", "I.image_occurrence_date"),
        "I.visit_occurrence_id",
        "I.modality_concept_id",
        source,
        where,
        persons=persons,
    )


def note_text_sql(c: m.NoteTextCriterion, p: Params, persons: str | None) -> str:
    where = []
    for t in c.all_of:
        where.append(f"STRPOS(NT.note_text, {p.add(t)}) > 0")
    if c.any_of:
        where.append(_contains_any("NT.note_text", c.any_of, p))
    for t in c.none_of:
        where.append(f"STRPOS(NT.note_text, {p.add(t)}) = 0")
    if c.doc_type:
        where.append(f"NT.note_source_value IN ({_strs(c.doc_type, p)})")
    return _event(
        "NT.person_id",
        "NT.note_id",
        "NT.note_date",
        dateadd("1", "NT.note_date"),
        "NT.visit_occurrence_id",
        "NT.note_type_concept_id",
        "note NT",
        where,
        persons=persons,
    )


_BUILDERS = {
    "condition": condition_sql,
    "measurement": measurement_sql,
    "drug": drug_sql,
    "procedure": procedure_sql,
    "visit": visit_sql,
    "nlp": nlp_sql,
    "imaging": imaging_sql,
    "note_text": note_text_sql,
}


def _dispatch(c: IrCriterion, ctx: Ctx) -> str:
    crit = _ADAPTER.validate_python(c.attrs)
    return _BUILDERS[crit.type](crit, ctx.params, ctx.persons)  # type: ignore[operator]


def register_all() -> None:
    """Make the ``medlake.<type>`` criterion domains known to the compiler (idempotent)."""
    for name in _BUILDERS:
        register_domain(f"medlake.{name}", _dispatch)
