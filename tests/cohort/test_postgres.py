"""The same compiled SQL gives the same cohort on PostgreSQL as on DuckDB."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medlake.cdm.lake import Lake
from medlake.cohort import compile_expression, load_file
from medlake.cohort.postgres import copy_tables, run_on_postgres
from medlake.cohort.runner import run_expression

PG_URL = os.environ.get("MEDLAKE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
EXAMPLE = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "medlake"
    / "cohort"
    / "examples"
    / "triple_positive_breast_cancer.json"
)
TABLES = [
    "person",
    "observation_period",
    "condition_occurrence",
    "measurement",
    "note",
    "note_nlp",
    "image_occurrence",
    "image_series_meta",
    "concept",
    "concept_ancestor",
    "concept_relationship",
    "drug_exposure",
    "visit_occurrence",
    "care_site",
]


@pytest.fixture
def pg():  # type: ignore[no-untyped-def]
    psycopg = pytest.importorskip("psycopg")
    try:
        conn = psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    schema = f"ml_cohort_test_{os.getpid()}"
    yield conn, schema
    with conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    conn.commit()
    conn.close()


def test_postgres_matches_duckdb(tiny_lake: Lake, pg) -> None:  # type: ignore[no-untyped-def]
    conn, schema = pg
    duck = tiny_lake.connect()
    copy_tables(duck, conn, schema, TABLES)
    loaded = load_file(EXAMPLE)
    want = run_expression(duck, loaded.expression)
    rows, timing = run_on_postgres(conn, compile_expression(loaded.expression), schema)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (r["subject_id"], r["cohort_start_date"], r["cohort_end_date"]) for r in want.rows.to_pylist()
    ]
    assert len(rows) == 2 and "ml_cohort_rows" in timing
