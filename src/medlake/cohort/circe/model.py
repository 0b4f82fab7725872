"""OHDSI Circe (ATLAS) cohort expressions as typed Python objects.

``parse_expression(obj)`` reads the Circe JSON (as exported by ATLAS / circe-be) into the
dataclasses below. The same objects are medlake's cohort IR: native medlake definitions are
translated into them (with medlake's own criterion domains, see ``medlake.cohort.domains``),
so one compiler serves both. Objects are mutable on purpose: tests alter them the way the
circe-be Java tests do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medlake.errors import ValidationFailed

OCCURRENCE_EXACTLY, OCCURRENCE_AT_MOST, OCCURRENCE_AT_LEAST = 0, 1, 2
GROUP_TYPES = ("ALL", "ANY", "AT_LEAST", "AT_MOST")
LIMIT_TYPES = ("all", "first", "last")


@dataclass
class ConceptSetItem:
    concept_id: int
    include_descendants: bool = False
    include_mapped: bool = False
    is_excluded: bool = False


@dataclass
class ConceptSet:
    id: int
    name: str
    items: list[ConceptSetItem]


@dataclass
class Criterion:
    """One domain criterion: ``domain`` names the event source, ``attrs`` its filters."""

    domain: str
    attrs: dict[str, Any] = field(default_factory=dict)
    correlated: CriteriaGroup | None = None

    @property
    def first(self) -> bool:
        return bool(self.attrs.get("First"))


@dataclass
class WindowBound:
    days: int | None
    coeff: int


@dataclass
class Window:
    start: WindowBound
    end: WindowBound
    use_index_end: bool = False
    use_event_end: bool = False


@dataclass
class Occurrence:
    type: int = OCCURRENCE_AT_LEAST
    count: int = 1
    is_distinct: bool = False
    count_column: str | None = None


@dataclass
class CorrelatedCriteria:
    criterion: Criterion
    start_window: Window | None = None
    end_window: Window | None = None
    occurrence: Occurrence = field(default_factory=Occurrence)
    restrict_visit: bool = False
    ignore_observation_period: bool = False


@dataclass
class CriteriaGroup:
    type: str = "ALL"
    count: int | None = None
    criteria: list[CorrelatedCriteria] = field(default_factory=list)
    demographics: list[dict[str, Any]] = field(default_factory=list)
    groups: list[CriteriaGroup] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.criteria or self.demographics or self.groups)


@dataclass
class InclusionRule:
    name: str
    expression: CriteriaGroup
    description: str = ""


@dataclass
class DateOffsetStrategy:
    date_field: str = "StartDate"
    offset: int = 0


@dataclass
class CustomEraStrategy:
    drug_codeset_id: int | None
    gap_days: int = 0
    offset: int = 0
    days_supply_override: int | None = None


@dataclass
class CohortExpression:
    concept_sets: list[ConceptSet] = field(default_factory=list)
    primary_criteria: list[Criterion] = field(default_factory=list)
    prior_days: int = 0
    post_days: int = 0
    primary_limit: str = "all"
    additional_criteria: CriteriaGroup | None = None
    qualified_limit: str = "all"
    expression_limit: str = "all"
    inclusion_rules: list[InclusionRule] = field(default_factory=list)
    end_strategy: DateOffsetStrategy | CustomEraStrategy | None = None
    censoring_criteria: list[Criterion] = field(default_factory=list)
    era_pad: int = 0
    censor_start: str | None = None
    censor_end: str | None = None
    title: str = ""


# -- parsing ---------------------------------------------------------------------------------------


def _limit(obj: dict[str, Any] | None) -> str:
    value = str((obj or {}).get("Type", "All")).lower()
    if value not in LIMIT_TYPES:
        raise ValidationFailed(f"unknown limit type {value!r}")
    return value


def parse_criterion(obj: dict[str, Any]) -> Criterion:
    if not isinstance(obj, dict) or len(obj) != 1:
        raise ValidationFailed(
            "a criterion is an object with exactly one domain key, e.g. ConditionOccurrence"
        )
    ((domain, body),) = obj.items()
    body = dict(body or {})
    correlated = body.pop("CorrelatedCriteria", None)
    return Criterion(domain, body, parse_group(correlated) if correlated else None)


def _bound(obj: dict[str, Any] | None) -> WindowBound:
    obj = obj or {}
    days = obj.get("Days")
    return WindowBound(int(days) if days is not None else None, int(obj.get("Coeff", 1)))


def parse_window(obj: dict[str, Any] | None) -> Window | None:
    if not obj:
        return None
    return Window(
        _bound(obj.get("Start")),
        _bound(obj.get("End")),
        bool(obj.get("UseIndexEnd", False)),
        bool(obj.get("UseEventEnd", False)),
    )


def parse_correlated(obj: dict[str, Any]) -> CorrelatedCriteria:
    occ = obj.get("Occurrence") or {}
    return CorrelatedCriteria(
        parse_criterion(obj["Criteria"]),
        parse_window(obj.get("StartWindow")),
        parse_window(obj.get("EndWindow")),
        Occurrence(
            int(occ.get("Type", OCCURRENCE_AT_LEAST)),
            int(occ.get("Count", 1)),
            bool(occ.get("IsDistinct", False)),
            occ.get("CountColumn"),
        ),
        bool(obj.get("RestrictVisit", False)),
        bool(obj.get("IgnoreObservationPeriod", False)),
    )


def parse_group(obj: dict[str, Any]) -> CriteriaGroup:
    return CriteriaGroup(
        str(obj.get("Type", "ALL")).upper(),
        obj.get("Count"),
        [parse_correlated(c) for c in obj.get("CriteriaList") or []],
        [dict(d) for d in obj.get("DemographicCriteriaList") or []],
        [parse_group(g) for g in obj.get("Groups") or []],
    )


def _concept_sets(items: list[dict[str, Any]]) -> list[ConceptSet]:
    out = []
    for cs in items:
        entries = []
        for item in (cs.get("expression") or {}).get("items") or []:
            concept = item.get("concept") or {}
            cid = concept.get("CONCEPT_ID", concept.get("conceptId"))
            if cid is None:
                raise ValidationFailed(f"concept set {cs.get('id')} has an item without CONCEPT_ID")
            entries.append(
                ConceptSetItem(
                    int(cid),
                    bool(item.get("includeDescendants", False)),
                    bool(item.get("includeMapped", False)),
                    bool(item.get("isExcluded", False)),
                )
            )
        out.append(ConceptSet(int(cs["id"]), str(cs.get("name", "")), entries))
    return out


def _end_strategy(obj: dict[str, Any] | None) -> DateOffsetStrategy | CustomEraStrategy | None:
    if not obj:
        return None
    if "DateOffset" in obj:
        d = obj["DateOffset"]
        return DateOffsetStrategy(str(d.get("DateField", "StartDate")), int(d.get("Offset", 0)))
    if "CustomEra" in obj:
        c = obj["CustomEra"]
        cid = c.get("DrugCodesetId")
        dso = c.get("DaysSupplyOverride")
        return CustomEraStrategy(
            int(cid) if cid is not None else None,
            int(c.get("GapDays", 0)),
            int(c.get("Offset", 0)),
            int(dso) if dso is not None else None,
        )
    raise ValidationFailed(f"unknown end strategy {sorted(obj)}")


def parse_expression(obj: dict[str, Any]) -> CohortExpression:
    """Read a Circe cohort expression (the JSON ATLAS exports)."""
    if not isinstance(obj, dict) or "PrimaryCriteria" not in obj:
        raise ValidationFailed("not a Circe cohort expression (no PrimaryCriteria)")
    pc = obj.get("PrimaryCriteria") or {}
    window = pc.get("ObservationWindow") or {}
    additional = obj.get("AdditionalCriteria")
    collapse = obj.get("CollapseSettings") or {}
    censor = obj.get("CensorWindow") or {}
    return CohortExpression(
        concept_sets=_concept_sets(obj.get("ConceptSets") or []),
        primary_criteria=[parse_criterion(c) for c in pc.get("CriteriaList") or []],
        prior_days=int(window.get("PriorDays", 0)),
        post_days=int(window.get("PostDays", 0)),
        primary_limit=_limit(pc.get("PrimaryCriteriaLimit")),
        additional_criteria=parse_group(additional) if additional else None,
        qualified_limit=_limit(obj.get("QualifiedLimit")),
        expression_limit=_limit(obj.get("ExpressionLimit")),
        inclusion_rules=[
            InclusionRule(
                str(r.get("name", f"rule {i}")),
                parse_group(r.get("expression") or {}),
                r.get("description") or "",
            )
            for i, r in enumerate(obj.get("InclusionRules") or [])
        ],
        end_strategy=_end_strategy(obj.get("EndStrategy")),
        censoring_criteria=[parse_criterion(c) for c in obj.get("CensoringCriteria") or []],
        era_pad=int(collapse.get("EraPad", 0)),
        censor_start=censor.get("StartDate"),
        censor_end=censor.get("EndDate"),
        title=str(obj.get("title", obj.get("Title", ""))),
    )
