"""Feature extraction: a task spec run over the lake gives the index rows, X and Y.

``extract(con, spec)`` builds the index (from an index event or a cohort), runs one catalogue
query per feature and the outcome query, and returns a ``FeatureMatrix`` whose
``snapshot_hash`` (sha256 over names, values and labels) identifies the data a model saw.
``extract_person`` computes one patient's features for decision support, ``extract_latest``
every patient's at once (the lake fallback's table).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from medlake.cdm.schema import TABLES
from medlake.errors import ValidationFailed
from medlake.models.catalogue import (
    cohort_query,
    feature_query,
    index_event_query,
    outcome_query,
    person_index_query,
)
from medlake.models.spec import CohortSource, TaskSpec, apply_transforms

_IDX_SCHEMA = pa.schema(
    [
        ("row_id", pa.int64()),
        ("person_id", pa.int64()),
        ("index_date", pa.date32()),
        ("index_ts", pa.timestamp("us")),
    ]
)


@dataclass
class FeatureMatrix:
    names: list[str]
    X: np.ndarray
    person_ids: np.ndarray
    index_ts: np.ndarray
    y: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    def snapshot_hash(self) -> str:
        """sha256 over feature names, the matrix (NaN canonical, little-endian) and the labels."""
        h = hashlib.sha256()
        h.update("\x1f".join(self.names).encode())
        x = np.ascontiguousarray(self.X, dtype="<f8").copy()
        x[np.isnan(x)] = np.nan
        h.update(x.tobytes())
        h.update(np.ascontiguousarray(self.person_ids, dtype="<i8").tobytes())
        if self.y is not None:
            h.update(np.ascontiguousarray(self.y, dtype="<i1").tobytes())
        return h.hexdigest()

    def subset(self, rows: np.ndarray) -> FeatureMatrix:
        return FeatureMatrix(
            self.names,
            self.X[rows],
            self.person_ids[rows],
            self.index_ts[rows],
            None if self.y is None else self.y[rows],
            dict(self.meta),
        )


def index_rows(con: duckdb.DuckDBPyConnection, spec: TaskSpec) -> pa.Table:
    src = spec.source
    if isinstance(src, CohortSource):
        if "cohort" not in TABLES:
            raise ValidationFailed("this lake has no cohort table", hint="Use an index_event data source.")
        sql, params = cohort_query(src.cohort_definition_id)
    else:
        sql, params = index_event_query(src.domain, src.match, src.occurrence, src.min_age, src.max_age)
    rows = con.execute(sql, params).fetchall()
    return _idx_table([(i, r[0], r[1], r[2]) for i, r in enumerate(rows)])


def _idx_table(rows: list[tuple[int, int, date, datetime]]) -> pa.Table:
    cols: list[Any] = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    return pa.Table.from_arrays(
        [pa.array(list(c), type=f.type) for c, f in zip(cols, _IDX_SCHEMA, strict=True)], schema=_IDX_SCHEMA
    )


def _fill(con: duckdb.DuckDBPyConnection, spec: TaskSpec, n: int) -> np.ndarray:
    X = np.full((n, len(spec.features)), np.nan)
    parts, params = [], []
    for j, feat in enumerate(spec.features):
        sql, p = feature_query(feat)
        parts.append(f"SELECT {j} AS j, row_id, value FROM ({sql})")
        params += p
    for j, row_id, value in con.execute(" UNION ALL ".join(parts), params).fetchall():
        X[row_id, j] = np.nan if value is None else float(value)
    for j, feat in enumerate(spec.features):
        if feat.kind in ("condition", "procedure", "drug", "note_text") or (
            feat.kind == "nlp" and feat.value == "present"
        ):
            col = X[:, j]
            col[np.isnan(col)] = 0.0
    return apply_transforms(spec.features, X)


def extract(con: duckdb.DuckDBPyConnection, spec: TaskSpec, *, with_labels: bool = True) -> FeatureMatrix:
    """Index rows, features and (optionally) labels for the whole task."""
    idx = index_rows(con, spec)
    n = idx.num_rows
    if n == 0:
        raise ValidationFailed(f"task {spec.name}: the data source matches no patients in the lake")
    con.register("_idx", idx)
    try:
        X = _fill(con, spec, n)
        y = None
        if with_labels:
            y = np.zeros(n, dtype=np.int8)
            sql, params = outcome_query(spec.outcome)
            for (row_id,) in con.execute(sql, params).fetchall():
                y[row_id] = 1
    finally:
        con.unregister("_idx")
    person_ids = np.asarray(idx.column("person_id").to_pylist(), dtype=np.int64)
    index_ts = np.asarray(idx.column("index_ts").to_pylist(), dtype="datetime64[us]")
    return FeatureMatrix([f.name for f in spec.features], X, person_ids, index_ts, y)


def person_index(
    con: duckdb.DuckDBPyConnection, spec: TaskSpec, person_id: int
) -> tuple[date, datetime] | None:
    """The person's latest index event for the task (None when they have none)."""
    src = spec.source
    if isinstance(src, CohortSource):
        return None
    sql, params = person_index_query(src.domain, src.match)
    rows = con.execute(sql, [*params, person_id]).fetchall()  # fetchall: DuckDB 2 keeps unfinished results
    return (rows[0][0], rows[0][1]) if rows else None


def extract_person(
    con: duckdb.DuckDBPyConnection, spec: TaskSpec, person_id: int, at: datetime | None = None
) -> tuple[np.ndarray, datetime]:
    """One person's feature vector at their latest index event (or at ``at`` / now)."""
    found = person_index(con, spec, person_id) if at is None else None
    if found is not None:
        index_date, index_ts = found
    else:
        index_ts = at or datetime.now().replace(microsecond=0)
        index_date = index_ts.date()
    con.register("_idx", _idx_table([(0, person_id, index_date, index_ts)]))
    try:
        X = _fill(con, spec, 1)
    finally:
        con.unregister("_idx")
    return X[0], index_ts


def extract_latest(con: duckdb.DuckDBPyConnection, spec: TaskSpec) -> dict[int, tuple[np.ndarray, datetime]]:
    """Every person's features at their latest index event, in one pass (as ``extract_person`` gives
    them one at a time); empty for cohort data sources. Decision support keeps this per lake slice.
    """
    src = spec.source
    if isinstance(src, CohortSource):
        return {}
    sql, params = index_event_query(src.domain, src.match, "last", None, None)
    rows = con.execute(sql, params).fetchall()
    if not rows:
        return {}
    con.register("_idx", _idx_table([(i, r[0], r[1], r[2]) for i, r in enumerate(rows)]))
    try:
        X = _fill(con, spec, len(rows))
    finally:
        con.unregister("_idx")
    return {int(r[0]): (X[i], r[2]) for i, r in enumerate(rows)}
