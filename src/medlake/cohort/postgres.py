"""Run the same compiled cohort SQL on PostgreSQL (for comparison runs and scale-out checks).

``copy_tables`` loads lake tables into a PostgreSQL schema with ``COPY ... FROM STDIN`` (CSV
streamed out of DuckDB); ``run_on_postgres`` executes the compiled statements rendered in the
PostgreSQL dialect with that schema on the search path, and returns the cohort rows.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from medlake.cdm.schema import duckdb_columns
from medlake.cohort.compiler import CompiledCohort, T

_PG_TYPES = {
    "BIGINT": "BIGINT",
    "INTEGER": "INTEGER",
    "DOUBLE": "DOUBLE PRECISION",
    "VARCHAR": "TEXT",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "BOOLEAN": "BOOLEAN",
}
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,50}$")


def _check_schema(schema: str) -> str:
    if not _SCHEMA_RE.match(schema):
        raise ValueError(f"not a plain schema name: {schema!r}")
    return schema


def copy_tables(
    duck: duckdb.DuckDBPyConnection,
    pg: Any,
    schema: str,
    tables: Sequence[str],
    *,
    chunk_bytes: int = 8 << 20,
) -> dict[str, float]:
    """Create ``schema`` and COPY each table of the DuckDB connection into it (CSV written by DuckDB
    aside, streamed to ``COPY ... FROM STDIN``); returns seconds per table."""
    schema = _check_schema(schema)
    timings = {}
    with pg.cursor() as cur:
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for name in tables:
            t0 = time.perf_counter()
            cols = duckdb_columns(name)
            cur.execute(f'DROP TABLE IF EXISTS {schema}."{name}"')
            cur.execute(
                f'CREATE UNLOGGED TABLE {schema}."{name}" ('
                + ", ".join(f'"{c}" {_PG_TYPES[t]}' for c, t in cols)
                + ")"
            )
            names = ", ".join(f'"{c}"' for c, _ in cols)
            with tempfile.TemporaryDirectory(prefix="medlake-pgcopy-") as tmp:
                csv = Path(tmp) / "rows.csv"
                target = str(csv).replace("'", "''")
                duck.execute(
                    f"""COPY (SELECT {names} FROM "{name}") TO '{target}' (FORMAT csv, HEADER false)"""
                )
                with (
                    cur.copy(f'COPY {schema}."{name}" ({names}) FROM STDIN (FORMAT csv)') as cp,
                    open(csv, "rb") as fh,
                ):
                    while chunk := fh.read(chunk_bytes):
                        cp.write(chunk)
            cur.execute(f'ANALYZE {schema}."{name}"')
            timings[name] = time.perf_counter() - t0
    pg.commit()
    return timings


def run_on_postgres(
    pg: Any, compiled: CompiledCohort, schema: str
) -> tuple[list[tuple[Any, ...]], dict[str, float]]:
    """Execute the compiled statements on PostgreSQL; returns (cohort rows, ms per statement)."""
    schema = _check_schema(schema)
    timing = {}
    with pg.cursor() as cur:
        cur.execute(f"SET search_path TO {schema}, public")
        for name, sql in compiled.named_sql("postgres"):
            t0 = time.perf_counter()
            cur.execute(sql)
            if not name.startswith("drop"):
                timing[name] = (time.perf_counter() - t0) * 1000
        cur.execute(f"SELECT person_id, start_date, end_date FROM {T['rows']} ORDER BY person_id, start_date")
        rows = cur.fetchall()
    pg.commit()
    return rows, timing
