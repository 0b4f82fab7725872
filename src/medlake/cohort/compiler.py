"""Compile a cohort expression (Circe IR) into SQL statements, built as SQLGlot trees.

The statements follow the semantics of OHDSI circe-be: codesets → primary events (observation
window, primary limit) → qualified events (additional criteria, qualified limit) → inclusion
rules (a bit per rule) → included events (expression limit) → end strategy and censoring →
era collapse → censor window. Every intermediate result is a temporary table prefixed
``ml_``; the final one is ``ml_cohort_rows (person_id, start_date, end_date)``. Values are bound
as literals (see ``sqlbuild``); identifiers come only from medlake's own templates.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from medlake.cohort.circe.model import (
    OCCURRENCE_AT_LEAST,
    OCCURRENCE_AT_MOST,
    OCCURRENCE_EXACTLY,
    CohortExpression,
    ConceptSet,
    CorrelatedCriteria,
    CriteriaGroup,
    Criterion,
    CustomEraStrategy,
    DateOffsetStrategy,
    Window,
)
from medlake.cohort.domains import Ctx, concept_ids, criterion_sql, in_list, range_sql
from medlake.cohort.sqlbuild import Params, Statement, build, dateadd
from medlake.errors import ValidationFailed

T = {
    "codesets": "ml_codesets",
    "primary": "ml_primary_events",
    "qualified": "ml_qualified_events",
    "inclusion": "ml_inclusion_events",
    "masks": "ml_event_masks",
    "included": "ml_included_events",
    "ends": "ml_cohort_ends",
    "rows": "ml_cohort_rows",
}

_COUNT_COLUMNS = {
    "DOMAIN_CONCEPT": "A.domain_concept_id",
    "START_DATE": "A.start_date",
    "VISIT_ID": "A.visit_occurrence_id",
}


@dataclass
class CompiledCohort:
    """The statements to run in order, and what the runner needs to know about them."""

    statements: list[tuple[str, Statement]] = field(default_factory=list)
    rule_names: list[str] = field(default_factory=list)
    _rendered: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def sql(self, dialect: str = "duckdb") -> list[str]:
        if dialect not in self._rendered:
            self._rendered[dialect] = [s.render(dialect) for _, s in self.statements]
        return self._rendered[dialect]

    def named_sql(self, dialect: str = "duckdb") -> list[tuple[str, str]]:
        return list(zip([n for n, _ in self.statements], self.sql(dialect), strict=True))


class Compiler:
    def __init__(self, expr: CohortExpression) -> None:
        self.expr = expr
        self.out = CompiledCohort(rule_names=[r.name for r in expr.inclusion_rules])

    # -- helpers ------------------------------------------------------------------------------------
    def _create(self, name: str, select: str, params: Params) -> None:
        self.out.statements.append((f"drop {name}", build(f"DROP TABLE IF EXISTS {name}")))
        self.out.statements.append((name, build(f"CREATE TEMPORARY TABLE {name} AS {select}", params)))

    # -- codesets -----------------------------------------------------------------------------------
    def _concept_set_sql(self, cs: ConceptSet, p: Params, excluded: bool) -> str | None:
        items = [i for i in cs.items if i.is_excluded == excluded]
        if not items:
            return None
        direct = ", ".join(p.add(i.concept_id) for i in items)
        parts = [f"SELECT concept_id FROM concept WHERE concept_id IN ({direct})"]
        desc = [i for i in items if i.include_descendants]
        if desc:
            ids = ", ".join(p.add(i.concept_id) for i in desc)
            parts.append(
                "SELECT c.concept_id FROM concept c JOIN concept_ancestor ca ON c.concept_id = ca.descendant_concept_id "
                f"WHERE ca.ancestor_concept_id IN ({ids}) AND c.invalid_reason IS NULL"
            )
        base = " UNION ".join(parts)
        mapped = [i for i in items if i.include_mapped]
        if mapped:
            base = (  # mapped: source concepts that map to the selected ones
                f"SELECT concept_id FROM ({base}) B UNION SELECT cr.concept_id_1 FROM concept_relationship cr "
                f"WHERE cr.relationship_id = {p.add('Maps to')} AND cr.invalid_reason IS NULL "
                f"AND cr.concept_id_2 IN ({base})"
            )
        return base

    def codesets(self) -> None:
        p = Params()
        selects = []
        for cs in self.expr.concept_sets:
            inc = self._concept_set_sql(cs, p, excluded=False)
            if inc is None:
                continue
            exc = self._concept_set_sql(cs, p, excluded=True)
            sel = f"SELECT CAST({p.add(cs.id)} AS BIGINT) AS codeset_id, CAST(I.concept_id AS BIGINT) AS concept_id FROM ({inc}) I"
            if exc:
                sel += f" WHERE I.concept_id NOT IN ({exc})"
            selects.append(sel)
        if not selects:
            selects = [
                "SELECT CAST(NULL AS BIGINT) AS codeset_id, CAST(NULL AS BIGINT) AS concept_id WHERE FALSE"
            ]
        self._create(T["codesets"], " UNION ALL ".join(selects), p)

    # -- criteria and groups ------------------------------------------------------------------------
    def criterion_events(self, c: Criterion, ctx: Ctx) -> str:
        base = criterion_sql(c, ctx)
        if c.correlated is None or c.correlated.is_empty:
            return base
        wrapped = (
            "SELECT Q.person_id, Q.event_id, Q.start_date, Q.end_date, Q.visit_occurrence_id, Q.domain_concept_id, "
            "Q.sort_date, OP.observation_period_start_date AS op_start_date, OP.observation_period_end_date AS op_end_date "
            f"FROM ({base}) Q JOIN observation_period OP ON Q.person_id = OP.person_id "
            "AND OP.observation_period_start_date <= Q.start_date AND OP.observation_period_end_date >= Q.start_date"
        )
        keep = self.group_sql(c.correlated, f"({wrapped})", ctx)
        return (
            "SELECT W.person_id, W.event_id, W.start_date, W.end_date, W.visit_occurrence_id, W.domain_concept_id, "
            f"W.sort_date FROM ({wrapped}) W JOIN ({keep}) K ON K.person_id = W.person_id AND K.event_id = W.event_id"
        )

    def _window(self, w: Window | None, *, is_end: bool, check_op: bool, ctx: Ctx) -> list[str]:
        if w is None:
            return []
        idx = "P.end_date" if w.use_index_end else "P.start_date"
        default_event = "A.end_date" if is_end else "A.start_date"
        ev = (
            ("A.end_date" if w.use_event_end else "A.start_date")
            if not is_end
            else ("A.end_date" if w.use_event_end else default_event)
        )
        out = []
        for bound, cmp in ((w.start, ">="), (w.end, "<=")):
            if bound.days is not None:
                out.append(f"{ev} {cmp} {dateadd(ctx.params.add(bound.days * bound.coeff), idx)}")
            elif check_op:
                out.append(f"{ev} {cmp} {'P.op_start_date' if bound.coeff == -1 else 'P.op_end_date'}")
        return out

    def correlated_sql(self, cc: CorrelatedCriteria, events: str, ctx: Ctx) -> str:
        occ = cc.occurrence
        if occ.type not in (OCCURRENCE_EXACTLY, OCCURRENCE_AT_MOST, OCCURRENCE_AT_LEAST):
            raise ValidationFailed(f"invalid occurrence type {occ.type} (0 exactly, 1 at most, 2 at least)")
        check_op = not cc.ignore_observation_period
        on = ["A.person_id = P.person_id"]
        if check_op:
            on += ["A.start_date >= P.op_start_date", "A.start_date <= P.op_end_date"]
        on += self._window(cc.start_window, is_end=False, check_op=check_op, ctx=ctx)
        on += self._window(cc.end_window, is_end=True, check_op=check_op, ctx=ctx)
        if cc.restrict_visit:
            on.append("A.visit_occurrence_id = P.visit_occurrence_id")
        col = (
            _COUNT_COLUMNS.get(str(occ.count_column or "").upper(), "A.event_id")
            if occ.is_distinct
            else "A.event_id"
        )
        count = f"COUNT(DISTINCT {col})" if occ.is_distinct else f"COUNT({col})"
        op = {OCCURRENCE_EXACTLY: "=", OCCURRENCE_AT_MOST: "<=", OCCURRENCE_AT_LEAST: ">="}[occ.type]
        inner = self.criterion_events(cc.criterion, Ctx(ctx.params, ctx.codesets, persons=events))
        return (
            f"SELECT P.person_id, P.event_id FROM {events} P LEFT JOIN ({inner}) A ON {' AND '.join(on)} "
            f"GROUP BY P.person_id, P.event_id HAVING {count} {op} {ctx.params.add(occ.count)}"
        )

    def demographic_sql(self, d: dict[str, object], events: str, ctx: Ctx) -> str:
        p = ctx.params
        where = []
        for key, value in d.items():
            if value is None:
                continue
            if key == "Age":
                where.append(range_sql("(EXTRACT(YEAR FROM E.start_date) - PR.year_of_birth)", value, p))  # type: ignore[arg-type]
            elif key in ("Gender", "Race", "Ethnicity"):
                col = {
                    "Gender": "gender_concept_id",
                    "Race": "race_concept_id",
                    "Ethnicity": "ethnicity_concept_id",
                }[key]
                where.append(in_list(f"PR.{col}", concept_ids(value), p))
            elif key == "OccurrenceStartDate":
                where.append(range_sql("E.start_date", value, p, is_date=True))  # type: ignore[arg-type]
            elif key == "OccurrenceEndDate":
                where.append(range_sql("E.end_date", value, p, is_date=True))  # type: ignore[arg-type]
            elif key in ("GenderCS", "RaceCS", "EthnicityCS"):
                col = {
                    "GenderCS": "gender_concept_id",
                    "RaceCS": "race_concept_id",
                    "EthnicityCS": "ethnicity_concept_id",
                }[key]
                cs = value.get("CodesetId") if isinstance(value, dict) else None
                if cs is not None:
                    where.append(
                        f"PR.{col} IN (SELECT concept_id FROM {ctx.codesets} WHERE codeset_id = {p.add(int(cs))})"
                    )
            else:
                raise ValidationFailed(f"demographic attribute {key!r} is not supported by medlake")
        return (
            f"SELECT E.person_id, E.event_id FROM {events} E JOIN person PR ON PR.person_id = E.person_id"
            + (f" WHERE {' AND '.join(where)}" if where else "")
        )

    def group_sql(self, g: CriteriaGroup, events: str, ctx: Ctx) -> str:
        """SELECT person_id, event_id of the events in ``events`` that satisfy the group."""
        if g.is_empty:
            return f"SELECT person_id, event_id FROM {events} GE"
        parts: list[str] = []
        for cc in g.criteria:
            parts.append(
                f"SELECT {len(parts)} AS index_id, X.person_id, X.event_id FROM ({self.correlated_sql(cc, events, ctx)}) X"
            )
        for d in g.demographics:
            parts.append(
                f"SELECT {len(parts)} AS index_id, X.person_id, X.event_id FROM ({self.demographic_sql(d, events, ctx)}) X"
            )
        for sub in g.groups:
            parts.append(
                f"SELECT {len(parts)} AS index_id, X.person_id, X.event_id FROM ({self.group_sql(sub, events, ctx)}) X"
            )
        gtype = g.type.upper()
        if gtype == "ALL":
            having = f"= {len(parts)}"
        elif gtype == "ANY":
            having = "> 0"
        elif gtype in ("AT_LEAST", "AT_MOST"):
            if g.count is None:
                raise ValidationFailed(f"group type {gtype} needs a Count")
            having = f"{'>=' if gtype == 'AT_LEAST' else '<='} {ctx.params.add(int(g.count))}"
        else:
            raise ValidationFailed(f"unknown group type {g.type!r}")
        return (
            f"SELECT GE.person_id, GE.event_id FROM {events} GE LEFT JOIN ({' UNION ALL '.join(parts)}) CQ "
            f"ON GE.person_id = CQ.person_id AND GE.event_id = CQ.event_id "
            f"GROUP BY GE.person_id, GE.event_id HAVING COUNT(CQ.index_id) {having}"
        )

    # -- pipeline -----------------------------------------------------------------------------------
    def primary(self) -> None:
        e = self.expr
        if not e.primary_criteria:
            raise ValidationFailed("the cohort has no entry event (PrimaryCriteria.CriteriaList is empty)")
        ctx = Ctx(codesets=T["codesets"])
        p = ctx.params
        union = " UNION ALL ".join(
            f"SELECT * FROM ({self.criterion_events(c, ctx)}) PC{i}" for i, c in enumerate(e.primary_criteria)
        )
        order = "DESC" if e.primary_limit == "last" else "ASC"
        sel = (
            "SELECT P.ordinal AS event_id, P.person_id, P.start_date, P.end_date, P.op_start_date, P.op_end_date, "
            "P.visit_occurrence_id FROM (SELECT E.person_id, E.start_date, E.end_date, "
            f"ROW_NUMBER() OVER (PARTITION BY E.person_id ORDER BY E.sort_date {order}, E.event_id) AS ordinal, "
            "OP.observation_period_start_date AS op_start_date, OP.observation_period_end_date AS op_end_date, "
            f"E.visit_occurrence_id FROM ({union}) E JOIN observation_period OP ON E.person_id = OP.person_id "
            "AND E.start_date >= OP.observation_period_start_date AND E.start_date <= OP.observation_period_end_date "
            f"WHERE {dateadd(p.add(e.prior_days), 'OP.observation_period_start_date')} <= E.start_date "
            f"AND {dateadd(p.add(e.post_days), 'E.start_date')} <= OP.observation_period_end_date) P"
            + (" WHERE P.ordinal = 1" if e.primary_limit != "all" else "")
        )
        self._create(T["primary"], sel, p)

    def qualified(self) -> None:
        e = self.expr
        ctx = Ctx(codesets=T["codesets"])
        join = ""
        if e.additional_criteria is not None and not e.additional_criteria.is_empty:
            ac = self.group_sql(e.additional_criteria, T["primary"], ctx)
            join = f" JOIN ({ac}) AC ON AC.person_id = pe.person_id AND AC.event_id = pe.event_id"
        order = "DESC" if e.qualified_limit == "last" else "ASC"
        sel = (
            "SELECT event_id, person_id, start_date, end_date, op_start_date, op_end_date, visit_occurrence_id FROM ("
            "SELECT pe.event_id, pe.person_id, pe.start_date, pe.end_date, pe.op_start_date, pe.op_end_date, "
            f"pe.visit_occurrence_id, ROW_NUMBER() OVER (PARTITION BY pe.person_id ORDER BY pe.start_date {order}, pe.event_id) AS ordinal "
            f"FROM {T['primary']} pe{join}) QE"
            + (" WHERE QE.ordinal = 1" if e.qualified_limit != "all" else "")
        )
        self._create(T["qualified"], sel, ctx.params)

    def inclusion(self) -> None:
        ctx = Ctx(codesets=T["codesets"])
        parts = [
            f"SELECT CAST({i} AS INTEGER) AS inclusion_rule_id, R.person_id, R.event_id FROM ({self.group_sql(r.expression, T['qualified'], ctx)}) R"
            for i, r in enumerate(self.expr.inclusion_rules)
        ]
        if not parts:
            parts = [
                "SELECT CAST(NULL AS INTEGER) AS inclusion_rule_id, CAST(NULL AS BIGINT) AS person_id, CAST(NULL AS BIGINT) AS event_id WHERE FALSE"
            ]
        self._create(T["inclusion"], " UNION ALL ".join(parts), ctx.params)
        masks = (
            "SELECT Q.event_id, Q.person_id, Q.start_date, Q.end_date, Q.op_start_date, Q.op_end_date, "
            "CAST(SUM(COALESCE(CAST(POWER(2, I.inclusion_rule_id) AS BIGINT), 0)) AS BIGINT) AS inclusion_rule_mask "
            f"FROM {T['qualified']} Q LEFT JOIN {T['inclusion']} I ON I.person_id = Q.person_id AND I.event_id = Q.event_id "
            "GROUP BY Q.event_id, Q.person_id, Q.start_date, Q.end_date, Q.op_start_date, Q.op_end_date"
        )
        self._create(T["masks"], masks, Params())
        n = len(self.expr.inclusion_rules)
        p = Params()
        order = "DESC" if self.expr.expression_limit == "last" else "ASC"
        sel = (
            "SELECT event_id, person_id, start_date, end_date, op_start_date, op_end_date FROM ("
            "SELECT MG.*, ROW_NUMBER() OVER (PARTITION BY MG.person_id ORDER BY MG.start_date "
            + order
            + ", MG.event_id) AS ordinal "
            f"FROM {T['masks']} MG"
            + (f" WHERE MG.inclusion_rule_mask = {p.add((1 << n) - 1)}" if n else "")
            + ") R"
            + (" WHERE R.ordinal = 1" if self.expr.expression_limit != "all" else "")
        )
        self._create(T["included"], sel, p)

    def _strategy_ends(self, p: Params) -> str:
        s = self.expr.end_strategy
        if s is None:
            return f"SELECT event_id, person_id, op_end_date AS end_date FROM {T['included']}"
        if isinstance(s, DateOffsetStrategy):
            field_col = {"startdate": "start_date", "enddate": "end_date"}.get(s.date_field.lower())
            if field_col is None:
                raise ValidationFailed(f"unknown DateOffset field {s.date_field!r}")
            shifted = dateadd(p.add(s.offset), field_col)
            return (
                f"SELECT event_id, person_id, CASE WHEN {shifted} > op_end_date THEN op_end_date ELSE {shifted} END AS end_date "
                f"FROM {T['included']}"
            )
        assert isinstance(s, CustomEraStrategy)
        if s.drug_codeset_id is None:
            raise ValidationFailed("a custom era (continuous exposure) exit needs a drug concept set")
        if s.days_supply_override is not None:
            de_end = dateadd(p.add(s.days_supply_override), "de.drug_exposure_start_date")
        else:
            de_end = (
                f"COALESCE(de.drug_exposure_end_date, {dateadd('de.days_supply', 'de.drug_exposure_start_date')}, "
                f"{dateadd('1', 'de.drug_exposure_start_date')})"
            )
        target = (
            f"SELECT de.person_id, de.drug_exposure_start_date AS start_date, {de_end} AS end_date FROM drug_exposure de "
            f"WHERE de.person_id IN (SELECT person_id FROM {T['included']}) AND de.drug_concept_id IN "
            f"(SELECT concept_id FROM {T['codesets']} WHERE codeset_id = {p.add(s.drug_codeset_id)})"
        )
        eras = self._collapse(target, p.add(s.gap_days))
        return (
            f"SELECT et.event_id, et.person_id, CASE WHEN ERAS.era_end > et.op_end_date THEN et.op_end_date ELSE ERAS.era_end END AS end_date "
            f"FROM {T['included']} et JOIN (SELECT person_id, start_date AS era_start, {dateadd(p.add(s.offset), 'end_date')} AS era_end "
            f"FROM ({eras}) EE) ERAS ON ERAS.person_id = et.person_id "
            "WHERE et.start_date >= ERAS.era_start AND et.start_date <= ERAS.era_end"
        )

    @staticmethod
    def _collapse(rows: str, pad: str) -> str:
        """Merge (person_id, start_date, end_date) rows whose gap is at most ``pad`` days."""
        return (
            f"SELECT person_id, MIN(start_date) AS start_date, {dateadd(f'-1 * {pad}', 'MAX(end_date)')} AS end_date FROM ("
            "SELECT person_id, start_date, end_date, SUM(is_start) OVER (PARTITION BY person_id ORDER BY start_date, is_start DESC "
            "ROWS UNBOUNDED PRECEDING) AS group_idx FROM ("
            "SELECT person_id, start_date, end_date, CASE WHEN MAX(end_date) OVER (PARTITION BY person_id ORDER BY start_date "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) >= start_date THEN 0 ELSE 1 END AS is_start FROM ("
            f"SELECT person_id, start_date, {dateadd(pad, 'end_date')} AS end_date FROM ({rows}) CR0) CR) ST) GR "
            "GROUP BY person_id, group_idx"
        )

    def ends(self) -> None:
        e = self.expr
        ctx = Ctx(codesets=T["codesets"])
        p = ctx.params
        parts = [self._strategy_ends(p)]
        if e.censoring_criteria:
            cens = " UNION ALL ".join(
                f"SELECT * FROM ({self.criterion_events(c, ctx)}) CC{i}"
                for i, c in enumerate(e.censoring_criteria)
            )
            parts.append(
                f"SELECT i.event_id, i.person_id, MIN(c.start_date) AS end_date FROM {T['included']} i JOIN ({cens}) c "
                "ON c.person_id = i.person_id AND c.start_date >= i.start_date AND c.start_date <= i.op_end_date "
                "GROUP BY i.event_id, i.person_id"
            )
        union = " UNION ALL ".join(f"SELECT * FROM ({x}) X{i}" for i, x in enumerate(parts))
        first_ends = (
            "SELECT F.person_id, F.start_date, F.end_date FROM (SELECT I.event_id, I.person_id, I.start_date, CE.end_date, "
            "ROW_NUMBER() OVER (PARTITION BY I.person_id, I.event_id ORDER BY CE.end_date) AS ordinal "
            f"FROM {T['included']} I JOIN ({union}) CE ON I.event_id = CE.event_id AND I.person_id = CE.person_id "
            "AND CE.end_date >= I.start_date) F WHERE F.ordinal = 1"
        )
        self._create(T["ends"], first_ends, p)
        p = Params()
        final = self._collapse(f"SELECT person_id, start_date, end_date FROM {T['ends']}", p.add(e.era_pad))
        start, end, where = "start_date", "end_date", []
        if e.censor_start:
            cs = p.date(e.censor_start)
            start = f"CASE WHEN start_date > {cs} THEN start_date ELSE {cs} END"
            where.append(f"end_date >= {cs}")
        if e.censor_end:
            ce = p.date(e.censor_end)
            end = f"CASE WHEN end_date < {ce} THEN end_date ELSE {ce} END"
            where.append(f"start_date <= {ce}")
        sel = (
            f"SELECT person_id, CAST({start} AS DATE) AS start_date, CAST({end} AS DATE) AS end_date FROM ({final}) FC"
            + (f" WHERE {' AND '.join(where)}" if where else "")
        )
        self._create(T["rows"], sel, p)

    def compile(self) -> CompiledCohort:
        self.codesets()
        self.primary()
        self.qualified()
        self.inclusion()
        self.ends()
        return self.out


_CACHE: OrderedDict[str, CompiledCohort] = OrderedDict()
_CACHE_SIZE = 64


def compile_expression(expr: CohortExpression) -> CompiledCohort:
    """Compile ``expr``; the same expression compiles once per process (parsing SQL costs ~0.1-0.5 s)."""
    key = repr(expr)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    compiled = Compiler(expr).compile()
    _CACHE[key] = compiled
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return compiled
