"""Run a compiled cohort on a DuckDB connection: cohort rows, counts, attrition and timing.

Attrition follows OHDSI's inclusion statistics: every qualifying event carries a bit mask of
the inclusion rules it satisfies; "by event" counts all qualifying events, "by person" counts
each person's best event (most rules passed, then earliest). ``persons_passed`` of a rule is the
number of best events that satisfy it; the funnel counts best events passing rules 1..k.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from medlake.cohort.circe.model import CohortExpression
from medlake.cohort.compiler import CompiledCohort, T, compile_expression


@dataclass
class RuleStat:
    name: str
    persons_passed: int
    events_passed: int
    persons_remaining: int
    events_remaining: int


@dataclass
class CohortResult:
    cohort_definition_id: int
    persons: int
    entries: int
    qualified_persons: int
    qualified_events: int
    rules: list[RuleStat]
    rows: pa.Table
    mask_counts: dict[int, dict[int, int]] = field(default_factory=dict)  # mode -> mask -> count
    timing_ms: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "cohort_definition_id": self.cohort_definition_id,
            "persons": self.persons,
            "entries": self.entries,
            "qualified_persons": self.qualified_persons,
            "qualified_events": self.qualified_events,
            "inclusion_rules": [
                {
                    "name": r.name,
                    "persons_passed": r.persons_passed,
                    "events_passed": r.events_passed,
                    "persons_remaining": r.persons_remaining,
                    "events_remaining": r.events_remaining,
                }
                for r in self.rules
            ],
            "timing_ms": {k: round(v, 1) for k, v in self.timing_ms.items()},
        }


_BEST = (
    "SELECT M.person_id, M.inclusion_rule_mask FROM (SELECT person_id, inclusion_rule_mask, ROW_NUMBER() OVER "
    "(PARTITION BY person_id ORDER BY BIT_COUNT(inclusion_rule_mask) DESC, start_date, event_id) AS rk "
    f"FROM {T['masks']}) M WHERE M.rk = 1"
)


def execute(con: duckdb.DuckDBPyConnection, compiled: CompiledCohort) -> dict[str, float]:
    timing: dict[str, float] = {}
    con.execute("SET enable_progress_bar = false")
    for name, sql in compiled.named_sql("duckdb"):
        t0 = time.perf_counter()
        con.execute(sql).fetchall()  # DuckDB finishes a statement lazily: fetch so timings are per statement
        if not name.startswith("drop"):
            timing[name] = (time.perf_counter() - t0) * 1000
    return timing


def run_expression(
    con: duckdb.DuckDBPyConnection, expr: CohortExpression, *, cohort_definition_id: int = 1
) -> CohortResult:
    """Compile and run ``expr``; the connection must expose the CDM tables by name."""
    t0 = time.perf_counter()
    compiled = compile_expression(expr)
    timing = {"compile": (time.perf_counter() - t0) * 1000}
    timing.update(execute(con, compiled))
    t1 = time.perf_counter()
    fetched = con.execute(
        f"SELECT CAST(person_id AS BIGINT), start_date, end_date FROM {T['rows']} ORDER BY person_id, start_date"
    ).fetchall()
    rows = pa.table(
        {
            "cohort_definition_id": pa.array([cohort_definition_id] * len(fetched), pa.int64()),
            "subject_id": pa.array([r[0] for r in fetched], pa.int64()),
            "cohort_start_date": pa.array([r[1] for r in fetched], pa.date32()),
            "cohort_end_date": pa.array([r[2] for r in fetched], pa.date32()),
        }
    )
    masks_event = dict(
        con.execute(f"SELECT inclusion_rule_mask, COUNT(*) FROM {T['masks']} GROUP BY 1").fetchall()
    )
    masks_person = dict(
        con.execute(f"SELECT inclusion_rule_mask, COUNT(*) FROM ({_BEST}) B GROUP BY 1").fetchall()
    )
    q_persons, q_events = con.execute(
        f"SELECT COUNT(DISTINCT person_id), COUNT(*) FROM {T['qualified']}"
    ).fetchall()[0]
    rules = []
    cumulative = 0
    for i, name in enumerate(compiled.rule_names):
        bit = 1 << i
        cumulative |= bit
        rules.append(
            RuleStat(
                name,
                sum(n for m, n in masks_person.items() if m & bit),
                sum(n for m, n in masks_event.items() if m & bit),
                sum(n for m, n in masks_person.items() if m & cumulative == cumulative),
                sum(n for m, n in masks_event.items() if m & cumulative == cumulative),
            )
        )
    timing["stats"] = (time.perf_counter() - t1) * 1000
    timing["total"] = (time.perf_counter() - t0) * 1000
    persons = len(set(rows.column("subject_id").to_pylist()))
    return CohortResult(
        cohort_definition_id,
        persons,
        rows.num_rows,
        int(q_persons),
        int(q_events),
        rules,
        rows,
        {
            0: {int(k): int(v) for k, v in masks_event.items()},
            1: {int(k): int(v) for k, v in masks_person.items()},
        },
        timing,
    )
