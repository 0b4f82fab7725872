"""Apply a de-identification plan to the tables of a dataset, then make the main table k-anonymous.

Input: Arrow tables that each carry the original person key column, the plan of every column
(``medlake.privacy.actions.resolve_plan``) and each column's kind. Output: the de-identified
tables (suppressed columns dropped, persons suppressed by k-anonymity removed from every table)
and a report of what was done to each column and what k-anonymity cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from medlake.errors import DeidentificationError
from medlake.privacy.actions import ColumnRule
from medlake.privacy.generalise import address_to, age_band, age_top, date_month, date_year
from medlake.privacy.kanon import KAnonReport, anonymise, hierarchy_for
from medlake.privacy.keys import ProjectKey
from medlake.privacy.scrubber import PatientContext, Scrubber


@dataclass
class TableInput:
    table: pa.Table
    kinds: dict[str, str]
    plan: dict[str, ColumnRule]
    text_columns: list[str] = field(default_factory=list)


@dataclass
class DeidReport:
    columns: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # table -> column -> info
    kanon: KAnonReport | None = None
    persons_suppressed: int = 0
    texts_scrubbed: int = 0
    spans_replaced: dict[str, int] = field(default_factory=dict)
    max_shift_days: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "k_anonymity": self.kanon.as_dict() if self.kanon else None,
            "persons_suppressed": self.persons_suppressed,
            "texts_scrubbed": self.texts_scrubbed,
            "spans_replaced": self.spans_replaced,
            "date_shift": f"per patient, within ±{self.max_shift_days} days, keyed HMAC-SHA256",
        }


def _map_unique(
    values: pa.ChunkedArray | pa.Array, fn: Callable[[Any], Any], out_type: pa.DataType
) -> pa.Array:
    """``fn`` applied once per distinct value (nulls stay null), mapped back to every row."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    uniques = pc.unique(values.drop_null())
    mapped = pa.array([fn(v) for v in uniques.to_pylist()], type=out_type)
    idx = pc.index_in(values, value_set=uniques)
    return pc.take(mapped, idx)


class Deidentifier:
    def __init__(
        self,
        key: ProjectKey,
        *,
        person_column: str = "person_id",
        max_shift_days: int = 30,
        scrubber: Scrubber | None = None,
    ) -> None:
        self.key = key
        self.person_column = person_column
        self.max_shift_days = max_shift_days
        self.scrubber = scrubber

    def _shifts(self, persons: pa.ChunkedArray | pa.Array) -> pa.Array:
        return _map_unique(
            persons, lambda p: self.key.shift_days(p, max_days=self.max_shift_days), pa.int32()
        )

    def apply_rule(self, col: pa.ChunkedArray, rule: ColumnRule, persons: pa.ChunkedArray) -> pa.Array | None:
        """The exported values of one column; None when the column is suppressed."""
        arr = col.combine_chunks()
        if rule.action == "keep":
            return arr
        if rule.action == "suppress":
            return None
        if rule.action == "pseudonymise":
            return _map_unique(arr, self.key.pseudonym, pa.string())
        if rule.action == "shift_date":
            return self._shift(arr, persons, rule.method)
        if rule.action == "generalise":
            if rule.method == "age_band":
                return age_band(arr, rule.band)
            if rule.method == "age_top":
                return age_top(arr)
            if rule.method == "month":
                return date_month(arr)
            if rule.method == "year":
                return date_year(arr)
            if rule.method in ("city", "province"):
                return address_to(arr, rule.method)
        raise DeidentificationError(f"action {rule.describe()} cannot be applied to a {arr.type} column")

    def _shift(self, arr: pa.Array, persons: pa.ChunkedArray, method: str | None) -> pa.Array:
        if not (pa.types.is_date(arr.type) or pa.types.is_timestamp(arr.type)):
            raise DeidentificationError(f"shift_date needs a date or timestamp column, not {arr.type}")
        days = self._shifts(persons)
        if pa.types.is_date(arr.type):
            as_int = pc.cast(arr, pa.int32())
            shifted = pc.cast(pc.add(as_int, days), pa.date32())
        else:
            unit = arr.type.unit
            per_day = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}[unit]
            delta = pc.multiply(pc.cast(days, pa.int64()), per_day)
            shifted = pc.cast(pc.add(pc.cast(arr, pa.int64()), delta), arr.type)
        if method == "month":
            return date_month(shifted)
        if method == "year":
            return date_year(shifted)
        return shifted

    def _scrub(
        self, arr: pa.Array, persons: pa.ChunkedArray, contexts: dict[Any, PatientContext], report: DeidReport
    ) -> pa.Array:
        scrubber = self.scrubber or Scrubber()
        person_list = persons.to_pylist()
        out: list[str | None] = []
        shift_cache: dict[Any, int] = {}
        for text, person in zip(arr.to_pylist(), person_list, strict=True):
            if text is None:
                out.append(None)
                continue
            ctx = contexts.get(person, PatientContext())
            if person not in shift_cache:
                shift_cache[person] = self.key.shift_days(person, max_days=self.max_shift_days)
            ctx.shift_days = shift_cache[person]
            result = scrubber.scrub(text, ctx)
            report.texts_scrubbed += 1
            for s in result.spans:
                report.spans_replaced[s.type] = report.spans_replaced.get(s.type, 0) + 1
            out.append(result.text)
        return pa.array(out, type=pa.string())

    def run(
        self,
        tables: dict[str, TableInput],
        *,
        main: str,
        k: int = 1,
        max_suppression: float = 0.05,
        contexts: dict[Any, PatientContext] | None = None,
    ) -> tuple[dict[str, pa.Table], DeidReport]:
        report = DeidReport(max_shift_days=self.max_shift_days)
        contexts = contexts or {}
        if main not in tables:
            raise DeidentificationError(f"no main table {main!r}")
        keep_persons: pa.Array | None = None
        out: dict[str, pa.Table] = {}
        for name in [main, *(t for t in tables if t != main)]:
            spec = tables[name]
            table = spec.table
            if self.person_column not in table.column_names:
                raise DeidentificationError(f"table {name} has no {self.person_column} column")
            if set(table.column_names) != set(spec.plan):
                missing = sorted(set(table.column_names) - set(spec.plan))
                raise DeidentificationError(f"no de-identification action for columns of {name}: {missing}")
            if keep_persons is not None:
                table = table.filter(pc.is_in(table.column(self.person_column), value_set=keep_persons))
            persons = table.column(self.person_column)
            columns: dict[str, pa.Array] = {}
            originals: dict[str, pa.Array] = {}
            report.columns[name] = {}
            for col in table.column_names:
                rule = spec.plan[col]
                if col in spec.text_columns and rule.action == "scrub":
                    values: pa.Array | None = self._scrub(
                        table.column(col).combine_chunks(), persons, contexts, report
                    )
                elif rule.action == "scrub":
                    raise DeidentificationError(
                        f"column {name}.{col} is not free text and cannot be scrubbed"
                    )
                else:
                    values = self.apply_rule(table.column(col), rule, persons)
                report.columns[name][col] = {"kind": spec.kinds.get(col, ""), "action": rule.describe()}
                if values is not None:
                    columns[col] = values
                    originals[col] = table.column(col).combine_chunks()
            if name == main:
                qis = [c for c in columns if spec.plan[c].quasi_identifier]
                if k > 1 and qis:
                    hierarchies = [
                        hierarchy_for(spec.kinds.get(c, ""), c, columns[c], originals[c]) for c in qis
                    ]
                    chosen, keep, kreport = anonymise(hierarchies, k, max_suppression=max_suppression)
                    columns.update(chosen)
                    report.kanon = kreport
                    mask = pa.array(keep)
                    columns = {c: v.filter(mask) for c, v in columns.items()}
                    kept = persons.combine_chunks().filter(mask)
                    keep_persons = pc.unique(kept)
                    report.persons_suppressed = int((~np.asarray(keep)).sum())
                    for c in qis:
                        report.columns[name][c]["k_level"] = kreport.levels[c]
            out[name] = pa.table(columns)
        return out, report
