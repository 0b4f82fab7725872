"""Translate a native medlake definition into the cohort IR (Circe objects) the compiler reads.

Entry criteria become primary criteria; each inclusion rule and each exclusion becomes one
inclusion rule of the IR, in order, so attrition is counted per rule as OHDSI does (an exclusion
is its group wrapped in AT_MOST 0). Windows are days relative to the index start (or end);
an open bound is bounded by the observation period, as in ATLAS.
"""

from __future__ import annotations

from medlake.cohort import model as m
from medlake.cohort.circe import model as ir
from medlake.cohort.native_domains import register_all

_OCC = {
    "exactly": ir.OCCURRENCE_EXACTLY,
    "at_most": ir.OCCURRENCE_AT_MOST,
    "at_least": ir.OCCURRENCE_AT_LEAST,
}
_DISTINCT = {"concept": "DOMAIN_CONCEPT", "date": "START_DATE", "visit": "VISIT_ID"}
SEX_CONCEPTS = {"M": 8507, "F": 8532}


def _criterion(c: m.Criterion) -> ir.Criterion:
    return ir.Criterion(f"medlake.{c.type}", c.model_dump(mode="json"))


def _window(w: m.Window) -> ir.Window:
    return ir.Window(
        ir.WindowBound(
            abs(w.start) if w.start is not None else None, -1 if (w.start is None or w.start < 0) else 1
        ),
        ir.WindowBound(abs(w.end) if w.end is not None else None, 1 if (w.end is None or w.end >= 0) else -1),
        use_index_end=w.relative_to == "index_end",
    )


def _demographic(d: m.Demographic) -> dict[str, object]:
    out: dict[str, object] = {}
    if d.age is not None:
        if d.age.min is not None and d.age.max is not None:
            out["Age"] = {"Value": d.age.min, "Extent": d.age.max, "Op": "bt"}
        elif d.age.min is not None:
            out["Age"] = {"Value": d.age.min, "Op": "gte"}
        elif d.age.max is not None:
            out["Age"] = {"Value": d.age.max, "Op": "lte"}
    if d.sex:
        out["Gender"] = [{"CONCEPT_ID": SEX_CONCEPTS[s]} for s in d.sex]
    return out


def _group(g: m.Group) -> ir.CriteriaGroup:
    out = ir.CriteriaGroup(g.type.upper(), g.count)
    for item in g.items:
        if isinstance(item, m.CriterionItem):
            out.criteria.append(
                ir.CorrelatedCriteria(
                    _criterion(item.criterion),
                    start_window=_window(item.window),
                    occurrence=ir.Occurrence(
                        _OCC[item.occurrence.type],
                        item.occurrence.count,
                        item.distinct != "event",
                        _DISTINCT.get(item.distinct),
                    ),
                    restrict_visit=item.restrict_visit,
                )
            )
        elif isinstance(item, m.DemographicItem):
            out.demographics.append(_demographic(item.demographic))
        else:
            out.groups.append(_group(item))
    return out


def to_expression(d: m.CohortDefinition) -> ir.CohortExpression:
    register_all()
    rules = [ir.InclusionRule(r.name, _group(r.group), r.description) for r in d.inclusion]
    for r in d.exclusions:
        rules.append(
            ir.InclusionRule(r.name, ir.CriteriaGroup("AT_MOST", 0, groups=[_group(r.group)]), r.description)
        )
    end: ir.DateOffsetStrategy | None = None
    if d.exit.type == "fixed":
        end = ir.DateOffsetStrategy("StartDate" if d.exit.from_ == "start" else "EndDate", d.exit.days)
    return ir.CohortExpression(
        concept_sets=[],
        primary_criteria=[_criterion(c) for c in d.entry.criteria],
        prior_days=d.entry.prior_observation_days,
        post_days=d.entry.post_observation_days,
        primary_limit=d.entry.limit,
        qualified_limit="all",
        expression_limit=d.limit,
        inclusion_rules=rules,
        end_strategy=end,
        era_pad=d.era_pad_days,
        title=d.title,
    )
