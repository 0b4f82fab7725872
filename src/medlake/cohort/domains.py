"""Event sources for criteria: one SELECT per criterion, giving a uniform event row.

Every domain query yields ``person_id, event_id, start_date, end_date, visit_occurrence_id,
domain_concept_id, sort_date``. OMOP domains (Circe names) are described by ``DomainSpec`` rows;
their Circe attributes map to filters here. An attribute medlake does not implement is an error,
never silently ignored. medlake's own domains (ICD prefix, lab code, NLP facts, imaging, note
text) register through ``register_domain``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medlake.cohort.circe.model import Criterion
from medlake.cohort.sqlbuild import Params, dateadd
from medlake.errors import ValidationFailed


@dataclass
class Ctx:
    """What a criterion query may refer to: bound values and the codeset table's name."""

    params: Params = field(default_factory=Params)
    codesets: str = "ml_codesets"
    # when set, a relation whose person_ids bound the events (correlated criteria only need the
    # persons of the index events: a large saving when the entry population is small)
    persons: str | None = None

    def person_clause(self, col: str) -> str | None:
        return f"{col} IN (SELECT PF.person_id FROM {self.persons} PF)" if self.persons else None


@dataclass(frozen=True)
class DomainSpec:
    table: str
    id_col: str
    concept_col: str | None
    start_col: str
    end_expr: str  # over alias C
    visit_col: str | None = "visit_occurrence_id"
    source_concept: tuple[str, str] | None = None  # (Circe attribute, column)
    type_filter: tuple[str, str] | None = None  # (Circe attribute, column)
    concept_filters: tuple[tuple[str, str], ...] = ()
    numeric_filters: tuple[tuple[str, str], ...] = ()
    text_filters: tuple[tuple[str, str], ...] = ()
    date_filters: tuple[tuple[str, str], ...] = ()
    age_attrs: tuple[tuple[str, str], ...] = (("Age", "C.start_date"),)


def _plus1(col: str) -> str:
    return dateadd("1", f"C.{col}")


OMOP_DOMAINS: dict[str, DomainSpec] = {
    "ConditionOccurrence": DomainSpec(
        "condition_occurrence",
        "condition_occurrence_id",
        "condition_concept_id",
        "condition_start_date",
        f"COALESCE(C.condition_end_date, {_plus1('condition_start_date')})",
        source_concept=("ConditionSourceConcept", "condition_source_concept_id"),
        type_filter=("ConditionType", "condition_type_concept_id"),
        concept_filters=(("ConditionStatus", "condition_status_concept_id"),),
        text_filters=(("StopReason", "stop_reason"),),
    ),
    "DrugExposure": DomainSpec(
        "drug_exposure",
        "drug_exposure_id",
        "drug_concept_id",
        "drug_exposure_start_date",
        "COALESCE(C.drug_exposure_end_date, "
        + dateadd("C.days_supply", "C.drug_exposure_start_date")
        + ", "
        + _plus1("drug_exposure_start_date")
        + ")",
        source_concept=("DrugSourceConcept", "drug_source_concept_id"),
        type_filter=("DrugType", "drug_type_concept_id"),
        # EffectiveDrugDose / DoseUnit read CDM v5.0 columns that v5.4 (and the lake) no longer have
        concept_filters=(("RouteConcept", "route_concept_id"), ("DoseUnit", "dose_unit_concept_id")),
        numeric_filters=(
            ("Refills", "refills"),
            ("Quantity", "quantity"),
            ("DaysSupply", "days_supply"),
            ("EffectiveDrugDose", "effective_drug_dose"),
        ),
        text_filters=(("StopReason", "stop_reason"), ("LotNumber", "lot_number")),
    ),
    "ProcedureOccurrence": DomainSpec(
        "procedure_occurrence",
        "procedure_occurrence_id",
        "procedure_concept_id",
        "procedure_date",
        f"COALESCE(C.procedure_end_date, {_plus1('procedure_date')})",
        source_concept=("ProcedureSourceConcept", "procedure_source_concept_id"),
        type_filter=("ProcedureType", "procedure_type_concept_id"),
        concept_filters=(("Modifier", "modifier_concept_id"),),
        numeric_filters=(("Quantity", "quantity"),),
    ),
    "Measurement": DomainSpec(
        "measurement",
        "measurement_id",
        "measurement_concept_id",
        "measurement_date",
        _plus1("measurement_date"),
        source_concept=("MeasurementSourceConcept", "measurement_source_concept_id"),
        type_filter=("MeasurementType", "measurement_type_concept_id"),
        concept_filters=(
            ("Operator", "operator_concept_id"),
            ("ValueAsConcept", "value_as_concept_id"),
            ("Unit", "unit_concept_id"),
        ),
        numeric_filters=(
            ("ValueAsNumber", "value_as_number"),
            ("RangeLow", "range_low"),
            ("RangeHigh", "range_high"),
            ("RangeLowRatio", "(C.value_as_number / NULLIF(C.range_low, 0))"),
            ("RangeHighRatio", "(C.value_as_number / NULLIF(C.range_high, 0))"),
        ),
    ),
    "Observation": DomainSpec(
        "observation",
        "observation_id",
        "observation_concept_id",
        "observation_date",
        _plus1("observation_date"),
        source_concept=("ObservationSourceConcept", "observation_source_concept_id"),
        type_filter=("ObservationType", "observation_type_concept_id"),
        concept_filters=(
            ("ValueAsConcept", "value_as_concept_id"),
            ("Qualifier", "qualifier_concept_id"),
            ("Unit", "unit_concept_id"),
        ),
        numeric_filters=(("ValueAsNumber", "value_as_number"),),
        text_filters=(("ValueAsString", "value_as_string"),),
    ),
    "VisitOccurrence": DomainSpec(
        "visit_occurrence",
        "visit_occurrence_id",
        "visit_concept_id",
        "visit_start_date",
        f"COALESCE(C.visit_end_date, {_plus1('visit_start_date')})",
        source_concept=("VisitSourceConcept", "visit_source_concept_id"),
        type_filter=("VisitType", "visit_type_concept_id"),
        numeric_filters=(("VisitLength", "DATE_DIFF('day', C.visit_start_date, C.visit_end_date)"),),
        concept_filters=(
            (
                "PlaceOfService",
                "care_site_id IN (SELECT care_site_id FROM care_site WHERE place_of_service_concept_id",
            ),
        ),
    ),
    "VisitDetail": DomainSpec(
        "visit_detail",
        "visit_detail_id",
        "visit_detail_concept_id",
        "visit_detail_start_date",
        f"COALESCE(C.visit_detail_end_date, {_plus1('visit_detail_start_date')})",
        source_concept=("VisitDetailSourceConcept", "visit_detail_source_concept_id"),
        type_filter=("VisitDetailTypeCS", "visit_detail_type_concept_id"),
        numeric_filters=(
            ("VisitDetailLength", "DATE_DIFF('day', C.visit_detail_start_date, C.visit_detail_end_date)"),
        ),
    ),
    "DeviceExposure": DomainSpec(
        "device_exposure",
        "device_exposure_id",
        "device_concept_id",
        "device_exposure_start_date",
        f"COALESCE(C.device_exposure_end_date, {_plus1('device_exposure_start_date')})",
        source_concept=("DeviceSourceConcept", "device_source_concept_id"),
        type_filter=("DeviceType", "device_type_concept_id"),
        numeric_filters=(("Quantity", "quantity"),),
        text_filters=(("UniqueDeviceId", "unique_device_id"),),
    ),
    "Specimen": DomainSpec(
        "specimen",
        "specimen_id",
        "specimen_concept_id",
        "specimen_date",
        _plus1("specimen_date"),
        visit_col=None,
        type_filter=("SpecimenType", "specimen_type_concept_id"),
        concept_filters=(
            ("Unit", "unit_concept_id"),
            ("AnatomicSite", "anatomic_site_concept_id"),
            ("DiseaseStatus", "disease_status_concept_id"),
        ),
        numeric_filters=(("Quantity", "quantity"),),
        text_filters=(("SourceId", "specimen_source_id"),),
    ),
    "Death": DomainSpec(
        "death",
        "person_id",
        "cause_concept_id",
        "death_date",
        _plus1("death_date"),
        visit_col=None,
        source_concept=("DeathSourceConcept", "cause_source_concept_id"),
        type_filter=("DeathType", "death_type_concept_id"),
    ),
    "ConditionEra": DomainSpec(
        "condition_era",
        "condition_era_id",
        "condition_concept_id",
        "condition_era_start_date",
        "C.condition_era_end_date",
        visit_col=None,
        numeric_filters=(
            ("OccurrenceCount", "condition_occurrence_count"),
            ("EraLength", "DATE_DIFF('day', C.condition_era_start_date, C.condition_era_end_date)"),
        ),
        date_filters=(("EraStartDate", "condition_era_start_date"), ("EraEndDate", "condition_era_end_date")),
        age_attrs=(("AgeAtStart", "C.start_date"), ("AgeAtEnd", "C.end_date")),
    ),
    "DrugEra": DomainSpec(
        "drug_era",
        "drug_era_id",
        "drug_concept_id",
        "drug_era_start_date",
        "C.drug_era_end_date",
        visit_col=None,
        numeric_filters=(
            ("OccurrenceCount", "drug_exposure_count"),
            ("GapDays", "gap_days"),
            ("EraLength", "DATE_DIFF('day', C.drug_era_start_date, C.drug_era_end_date)"),
        ),
        date_filters=(("EraStartDate", "drug_era_start_date"), ("EraEndDate", "drug_era_end_date")),
        age_attrs=(("AgeAtStart", "C.start_date"), ("AgeAtEnd", "C.end_date")),
    ),
    "DoseEra": DomainSpec(
        "dose_era",
        "dose_era_id",
        "drug_concept_id",
        "dose_era_start_date",
        "C.dose_era_end_date",
        visit_col=None,
        concept_filters=(("Unit", "unit_concept_id"),),
        numeric_filters=(
            ("DoseValue", "dose_value"),
            ("EraLength", "DATE_DIFF('day', C.dose_era_start_date, C.dose_era_end_date)"),
        ),
        date_filters=(("EraStartDate", "dose_era_start_date"), ("EraEndDate", "dose_era_end_date")),
        age_attrs=(("AgeAtStart", "C.start_date"), ("AgeAtEnd", "C.end_date")),
    ),
    "ObservationPeriod": DomainSpec(
        "observation_period",
        "observation_period_id",
        None,
        "observation_period_start_date",
        "C.observation_period_end_date",
        visit_col=None,
        type_filter=("PeriodType", "period_type_concept_id"),
        numeric_filters=(
            (
                "PeriodLength",
                "DATE_DIFF('day', C.observation_period_start_date, C.observation_period_end_date)",
            ),
        ),
        date_filters=(
            ("PeriodStartDate", "observation_period_start_date"),
            ("PeriodEndDate", "observation_period_end_date"),
        ),
        age_attrs=(("AgeAtStart", "C.start_date"), ("AgeAtEnd", "C.end_date")),
    ),
    "PayerPlanPeriod": DomainSpec(
        "payer_plan_period",
        "payer_plan_period_id",
        None,
        "payer_plan_period_start_date",
        "C.payer_plan_period_end_date",
        visit_col=None,
        concept_filters=(("PayerConcept", "payer_concept_id"), ("PlanConcept", "plan_concept_id")),
        numeric_filters=(
            (
                "PeriodLength",
                "DATE_DIFF('day', C.payer_plan_period_start_date, C.payer_plan_period_end_date)",
            ),
        ),
        date_filters=(
            ("PeriodStartDate", "payer_plan_period_start_date"),
            ("PeriodEndDate", "payer_plan_period_end_date"),
        ),
        age_attrs=(("AgeAtStart", "C.start_date"), ("AgeAtEnd", "C.end_date")),
    ),
}

_OPS = {"lt": "<", "lte": "<=", "eq": "=", "!eq": "<>", "gt": ">", "gte": ">="}


def _col(col: str) -> str:
    return col if col.startswith("(") or " " in col or "." in col else f"C.{col}"


def range_sql(col: str, rng: dict[str, Any], params: Params, *, is_date: bool = False) -> str:
    """A Circe NumericRange / DateRange (``{Value, Extent, Op}``) as SQL over ``col``."""
    op = str(rng.get("Op", "eq"))

    def val(v: Any) -> str:
        if v is None:
            raise ValidationFailed(f"range {rng} lacks a value")
        return params.date(str(v)) if is_date else params.add(float(v) if "." in str(v) else int(v))

    if op in _OPS:
        return f"{col} {_OPS[op]} {val(rng.get('Value'))}"
    if op in ("bt", "!bt"):
        clause = f"{col} BETWEEN {val(rng.get('Value'))} AND {val(rng.get('Extent'))}"
        return f"NOT ({clause})" if op == "!bt" else clause
    raise ValidationFailed(f"unknown range operator {op!r}")


def text_sql(col: str, flt: dict[str, Any], params: Params) -> str:
    """A Circe TextFilter (``{Text, Op}``) without LIKE wildcards: strpos/right keep text literal."""
    text = str(flt.get("Text", ""))
    op = str(flt.get("Op", "contains"))
    neg = op.startswith("!")
    base = op.lstrip("!")
    v = params.add(text)
    if base == "startsWith":
        clause = f"STRPOS({col}, {v}) = 1"
    elif base == "endsWith":
        clause = f"RIGHT({col}, LENGTH({v})) = {v}"
    elif base == "contains":
        clause = f"STRPOS({col}, {v}) > 0"
    else:
        raise ValidationFailed(f"unknown text operator {op!r}")
    return f"NOT ({clause})" if neg else clause


def concept_ids(items: Any) -> list[int]:
    if not isinstance(items, list):
        raise ValidationFailed(f"expected a list of concepts, got {items!r}")
    return [int(c["CONCEPT_ID"]) for c in items]


def in_list(col: str, ids: list[int], params: Params, *, exclude: bool = False) -> str:
    if not ids:
        return "TRUE"
    clause = f"{col} IN ({', '.join(params.add(i) for i in ids)})"
    return f"NOT ({clause})" if exclude else clause


def codeset_sql(col: str, codeset_id: Any, ctx: Ctx) -> str:
    return f"{col} IN (SELECT concept_id FROM {ctx.codesets} WHERE codeset_id = {ctx.params.add(int(codeset_id))})"


DomainBuilder = Callable[[Criterion, Ctx], str]
_EXTRA: dict[str, DomainBuilder] = {}


def register_domain(name: str, builder: DomainBuilder) -> None:
    _EXTRA[name] = builder


_HANDLED_COMMON = {
    "CodesetId",
    "First",
    "OccurrenceStartDate",
    "OccurrenceEndDate",
    "Gender",
    "ProviderSpecialty",
    "VisitType",
    "UserDefinedPeriod",
    "Abnormal",
    "Race",
    "Ethnicity",
}


def criterion_sql(c: Criterion, ctx: Ctx) -> str:
    """The SELECT giving the events of one criterion (without its correlated criteria)."""
    if c.domain in _EXTRA:
        return _EXTRA[c.domain](c, ctx)
    spec = OMOP_DOMAINS.get(c.domain)
    if spec is None:
        raise ValidationFailed(f"unsupported criterion domain {c.domain!r}")
    p = ctx.params
    a = c.attrs
    inner_where: list[str] = []
    restrict = ctx.person_clause("T.person_id")
    if restrict:
        inner_where.append(restrict)
    if a.get("CodesetId") is not None and spec.concept_col:
        inner_where.append(codeset_sql(f"T.{spec.concept_col}", a["CodesetId"], ctx))
    if spec.source_concept and a.get(spec.source_concept[0]) is not None:
        inner_where.append(codeset_sql(f"T.{spec.source_concept[1]}", a[spec.source_concept[0]], ctx))
    start, end = f"C.{spec.start_col}", spec.end_expr
    if c.domain == "ObservationPeriod" and a.get("UserDefinedPeriod"):
        udp = a["UserDefinedPeriod"]
        if udp.get("StartDate"):
            start = p.date(udp["StartDate"])
        if udp.get("EndDate"):
            end = p.date(udp["EndDate"])
    visit = f"C.{spec.visit_col}" if spec.visit_col else "CAST(NULL AS BIGINT)"
    concept = f"C.{spec.concept_col}" if spec.concept_col else "CAST(NULL AS INTEGER)"
    where: list[str] = []
    if c.first:
        where.append("C.ml_ordinal = 1")
    needs_person = False
    handled = set(_HANDLED_COMMON) | {spec.source_concept[0]} if spec.source_concept else set(_HANDLED_COMMON)
    for key, value in a.items():
        if value is None or key in handled:
            continue
        if spec.type_filter and key == spec.type_filter[0]:
            where.append(
                in_list(
                    f"C.{spec.type_filter[1]}", concept_ids(value), p, exclude=bool(a.get(key + "Exclude"))
                )
            )
        elif spec.type_filter and key == spec.type_filter[0] + "Exclude":
            continue
        elif key in dict(spec.concept_filters):
            col = dict(spec.concept_filters)[key]
            if col.endswith("concept_id") and " " not in col:
                where.append(in_list(f"C.{col}", concept_ids(value), p))
            else:  # sub-select ending in a concept column
                where.append(
                    f"C.{col} IN ({', '.join(p.add(i) for i in concept_ids(value))}))" if value else "TRUE"
                )
        elif key in dict(spec.numeric_filters):
            where.append(range_sql(_col(dict(spec.numeric_filters)[key]), value, p))
        elif key in dict(spec.text_filters):
            where.append(text_sql(f"C.{dict(spec.text_filters)[key]}", value, p))
        elif key in dict(spec.date_filters):
            where.append(range_sql(f"C.{dict(spec.date_filters)[key]}", value, p, is_date=True))
        elif key in dict(spec.age_attrs):
            where.append(
                range_sql(
                    f"(EXTRACT(YEAR FROM {dict(spec.age_attrs)[key].replace('C.start_date', start).replace('C.end_date', end)}) - P.year_of_birth)",
                    value,
                    p,
                )
            )
            needs_person = True
        else:
            raise ValidationFailed(f"Circe attribute {key!r} of {c.domain} is not supported by medlake")
    if a.get("OccurrenceStartDate"):
        where.append(range_sql(start, a["OccurrenceStartDate"], p, is_date=True))
    if a.get("OccurrenceEndDate"):
        where.append(range_sql(end, a["OccurrenceEndDate"], p, is_date=True))
    if a.get("Gender"):
        where.append(in_list("P.gender_concept_id", concept_ids(a["Gender"]), p))
        needs_person = True
    for key, col in (("Race", "race_concept_id"), ("Ethnicity", "ethnicity_concept_id")):
        if a.get(key):
            where.append(in_list(f"P.{col}", concept_ids(a[key]), p))
            needs_person = True
    if a.get("ProviderSpecialty"):
        ids = ", ".join(p.add(i) for i in concept_ids(a["ProviderSpecialty"]))
        where.append(
            f"C.provider_id IN (SELECT provider_id FROM provider WHERE specialty_concept_id IN ({ids}))"
        )
    if a.get("VisitType") and spec.visit_col:
        ids = ", ".join(p.add(i) for i in concept_ids(a["VisitType"]))
        where.append(
            f"C.visit_occurrence_id IN (SELECT visit_occurrence_id FROM visit_occurrence WHERE visit_concept_id IN ({ids}))"
        )
    if a.get("Abnormal") and c.domain == "Measurement":
        where.append(
            "(C.value_as_number < C.range_low OR C.value_as_number > C.range_high "
            "OR C.value_as_concept_id IN (4155142, 4155143))"
        )
    ordinal = (
        f", ROW_NUMBER() OVER (PARTITION BY T.person_id ORDER BY T.{spec.start_col}, T.{spec.id_col}) AS ml_ordinal"
        if c.first
        else ""
    )
    inner = f"SELECT T.*{ordinal} FROM {spec.table} T" + (
        f" WHERE {' AND '.join(inner_where)}" if inner_where else ""
    )
    join = " JOIN person P ON P.person_id = C.person_id" if needs_person else ""
    return (
        f"SELECT C.person_id, CAST(C.{spec.id_col} AS BIGINT) AS event_id, CAST({start} AS DATE) AS start_date, "
        f"CAST({end} AS DATE) AS end_date, CAST({visit} AS BIGINT) AS visit_occurrence_id, "
        f"CAST({concept} AS BIGINT) AS domain_concept_id, CAST({start} AS DATE) AS sort_date "
        f"FROM ({inner}) C{join}" + (f" WHERE {' AND '.join(where)}" if where else "")
    )
