"""k-anonymity over declared quasi-identifiers, reached by generalisation, then record suppression.

Each quasi-identifier has a hierarchy of rungs (level 0 is the value as the plan exports it, the
last rung is ``*``). The search walks the whole (small) lattice of level vectors and takes the one
with the least total generalisation whose remaining small classes cost at most
``max_suppression`` of the rows (ties: fewer rows suppressed); records in classes still smaller
than k are then suppressed. The report says what it cost: levels used, rows suppressed, classes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from medlake.errors import DeidentificationError
from medlake.privacy.generalise import address_to, age_band

NULL_LABEL = "未知"
STAR = "*"


@dataclass
class Hierarchy:
    """The rungs of one quasi-identifier, each already computed for every row."""

    column: str
    rungs: list[tuple[str, pa.Array]]  # (rung name, values)


@dataclass
class KAnonReport:
    k: int
    quasi_identifiers: list[str]
    levels: dict[str, str] = field(default_factory=dict)
    rows_in: int = 0
    rows_suppressed: int = 0
    classes: int = 0
    smallest_class: int = 0
    lattice_nodes_checked: int = 0

    @property
    def suppression_rate(self) -> float:
        return self.rows_suppressed / self.rows_in if self.rows_in else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "k": self.k,
            "quasi_identifiers": self.quasi_identifiers,
            "levels": self.levels,
            "rows_in": self.rows_in,
            "rows_suppressed": self.rows_suppressed,
            "suppression_rate": round(self.suppression_rate, 6),
            "classes": self.classes,
            "smallest_class": self.smallest_class,
            "lattice_nodes_checked": self.lattice_nodes_checked,
        }


def _codes(values: pa.Array) -> np.ndarray:
    """Integer codes of a column's values (nulls are one value of their own)."""
    series = pd.Series(values.to_pylist(), dtype="object").fillna(NULL_LABEL).astype(str)
    codes, _ = pd.factorize(series, sort=False)
    return np.asarray(codes, dtype=np.int64)


def _class_sizes(code_columns: list[np.ndarray]) -> np.ndarray:
    """For every row, the size of its equivalence class."""
    if not code_columns:
        return np.zeros(0, dtype=np.int64)
    key = np.zeros(len(code_columns[0]), dtype=np.int64)
    for codes in code_columns:
        key = key * (int(codes.max(initial=0)) + 1) + codes
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return np.asarray(counts[inverse], dtype=np.int64)


def anonymise(
    hierarchies: list[Hierarchy], k: int, *, max_suppression: float = 0.05
) -> tuple[dict[str, pa.Array], np.ndarray, KAnonReport]:
    """Chosen values per quasi-identifier, the boolean mask of rows kept, and the report."""
    if k < 1:
        raise DeidentificationError(f"k must be at least 1, not {k}")
    n = len(hierarchies[0].rungs[0][1]) if hierarchies else 0
    report = KAnonReport(k=k, quasi_identifiers=[h.column for h in hierarchies], rows_in=n)
    if not hierarchies or n == 0:
        return {}, np.ones(n, dtype=bool), report
    codes = [[_codes(values) for _, values in h.rungs] for h in hierarchies]
    best: tuple[int, int, tuple[int, ...]] | None = None
    fallback: tuple[int, int, tuple[int, ...]] | None = None
    for levels in itertools.product(*(range(len(h.rungs)) for h in hierarchies)):
        report.lattice_nodes_checked += 1
        sizes = _class_sizes([codes[i][lv] for i, lv in enumerate(levels)])
        suppressed = int((sizes < k).sum())
        node = (sum(levels), suppressed, levels)
        if fallback is None or (suppressed, sum(levels)) < (fallback[1], fallback[0]):
            fallback = node
        if suppressed <= max_suppression * n and (best is None or node < best):
            best = node
    chosen = best if best is not None else fallback
    assert chosen is not None
    levels = chosen[2]
    sizes = _class_sizes([codes[i][lv] for i, lv in enumerate(levels)])
    keep = sizes >= k
    report.levels = {h.column: h.rungs[lv][0] for h, lv in zip(hierarchies, levels, strict=True)}
    report.rows_suppressed = int((~keep).sum())
    kept_sizes = sizes[keep]
    report.classes = int(
        len(np.unique(np.stack([codes[i][lv][keep] for i, lv in enumerate(levels)]), axis=1).T)
    )
    report.smallest_class = int(kept_sizes.min()) if len(kept_sizes) else 0
    values = {h.column: h.rungs[lv][1] for h, lv in zip(hierarchies, levels, strict=True)}
    return values, keep, report


def _star(n: int) -> pa.Array:
    return pa.array([STAR] * n, type=pa.string())


def _as_text(values: pa.Array) -> pa.Array:
    return values if values.type == pa.string() else values.cast(pa.string())


HierarchyBuilder = Callable[[str, pa.Array, pa.Array], Hierarchy]


def age_hierarchy(column: str, exported: pa.Array, original: pa.Array) -> Hierarchy:
    n = len(original)
    rungs = [("as planned", _as_text(exported))]
    for width in (10, 20):
        rungs.append((f"{width}-year bands", age_band(original, width)))
    rungs.append(("suppressed (*)", _star(n)))
    return Hierarchy(column, rungs)


def place_hierarchy(column: str, exported: pa.Array, original: pa.Array) -> Hierarchy:
    n = len(original)
    return Hierarchy(
        column,
        [
            ("as planned", _as_text(exported)),
            ("province", address_to(original, "province")),
            ("suppressed (*)", _star(n)),
        ],
    )


def flat_hierarchy(column: str, exported: pa.Array, original: pa.Array) -> Hierarchy:
    return Hierarchy(column, [("as planned", _as_text(exported)), ("suppressed (*)", _star(len(original)))])


HIERARCHIES: dict[str, HierarchyBuilder] = {
    "age": age_hierarchy,
    "city": place_hierarchy,
    "address": place_hierarchy,
    "province": flat_hierarchy,
}


def hierarchy_for(kind: str, column: str, exported: pa.Array, original: pa.Array) -> Hierarchy:
    return HIERARCHIES.get(kind, flat_hierarchy)(column, exported, original)


def smallest_class(table: pa.Table, columns: list[str]) -> int:
    """The size of the smallest equivalence class of ``table`` over ``columns`` (0 for no rows)."""
    if table.num_rows == 0:
        return 0
    sizes = _class_sizes([_codes(table.column(c).combine_chunks()) for c in columns])
    return int(sizes.min())
