"""Safe SQL assembly: fixed templates plus values bound as SQLGlot literals.

Templates are written by medlake (identifiers come from fixed per-domain tables, never from a
definition); every value that comes from a cohort definition goes through ``Params.add`` and is
placed into the parsed expression tree as an ``exp.Literal`` (or a typed cast of one), so a
definition can never change the shape of the query. ``render`` gives the SQL for a dialect
(DuckDB for the lake, PostgreSQL for comparison runs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from medlake.errors import ValidationFailed

Value = int | float | str | bool | dt.date | None


@dataclass
class Params:
    """Collects the values of one statement; ``add`` returns the placeholder to write."""

    values: dict[str, Value] = field(default_factory=dict)

    def add(self, value: Value) -> str:
        if isinstance(value, bool):
            value = int(value)
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}"

    def date(self, value: dt.date | str) -> str:
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value[:10])
            except ValueError as exc:
                raise ValidationFailed(f"not a date: {value!r}") from exc
        return f"CAST({self.add(value.isoformat())} AS DATE)"


def _literal(value: Value) -> exp.Expr:
    if value is None:
        return exp.Null()
    if isinstance(value, int | float):
        if value < 0:
            return exp.Neg(this=exp.Literal.number(-value))
        return exp.Literal.number(value)
    if isinstance(value, dt.date):
        return exp.Literal.string(value.isoformat())
    return exp.Literal.string(str(value))


@dataclass
class Statement:
    """One SQL statement as a parsed tree with its values already bound."""

    tree: exp.Expr

    def render(self, dialect: str = "duckdb") -> str:
        return self.tree.sql(dialect=dialect)


def build(template: str, params: Params | None = None) -> Statement:
    """Parse a medlake template (DuckDB dialect) and bind the collected values as literals."""
    tree: exp.Expr = sqlglot.parse_one(template, read="duckdb")
    if params is not None and params.values:
        tree = exp.replace_placeholders(tree, **{k: _literal(v) for k, v in params.values.items()})
    leftover = [p for p in tree.find_all(exp.Placeholder)]
    if leftover:
        raise ValidationFailed(f"unbound SQL placeholder {leftover[0].sql()}")
    return Statement(tree)


def dateadd(days_sql: str, date_sql: str) -> str:
    """Template text for ``date + days`` that stays a DATE on DuckDB and PostgreSQL."""
    return f"(CAST({date_sql} AS DATE) + CAST({days_sql} AS INTEGER))"
