"""Cohort benchmark: the headline definition on a synthetic hospital, DuckDB vs PostgreSQL.

Runs ``src/medlake/cohort/examples/triple_positive_breast_cancer.json`` (or --definition) on the
lake at --data-dir (generated with ``benchmarks/cohort_synth.py`` when --generate N is given and
the lake is empty), three ways with the *same compiled SQL*:

1. DuckDB over the lake's Parquet parts (``Lake.connect()`` views, as ``medlake cohort run`` does);
2. DuckDB with the needed tables loaded into memory (a warm analytics session);
3. PostgreSQL (tables loaded with COPY into a scratch schema, ANALYZEd, person_id indexed),
   the statements rendered by SQLGlot in the postgres dialect.

Times are medians of --runs warm runs (the first, cold run is reported apart; compilation is
cached per process). The cohorts must be identical across engines.

    nice -n 10 .venv/bin/python benchmarks/cohort_bench.py --data-dir /tmp/ml-bench-1m --generate 1000000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import duckdb

from medlake.cdm.lake import Lake
from medlake.cohort.compiler import compile_expression
from medlake.cohort.runner import run_expression
from medlake.cohort.service import load_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

NEEDED = [
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
    "care_site",
]


CPU: dict[str, list[float]] = {}


def _time_runs(fn, runs: int, label: str = "") -> tuple[float, list[float], object]:  # type: ignore[no-untyped-def]
    """Cold run, then ``runs`` warm runs: wall ms; this process's CPU ms (all DuckDB threads) in CPU[label]."""
    t0 = time.perf_counter()
    result = fn()
    cold = (time.perf_counter() - t0) * 1000
    warm = []
    CPU[label] = []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        warm.append((time.perf_counter() - t0) * 1000)
        CPU[label].append((time.process_time() - c0) * 1000)
    return cold, warm, result


def main() -> None:
    ap = argparse.ArgumentParser(description="cohort benchmark: DuckDB vs PostgreSQL")
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument(
        "--generate",
        type=int,
        default=0,
        help="generate a synthetic hospital of N patients if the lake is empty",
    )
    ap.add_argument(
        "--definition",
        type=Path,
        default=ROOT / "src/medlake/cohort/examples/triple_positive_breast_cancer.json",
    )
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--skip-pg", action="store_true")
    ap.add_argument(
        "--pg-keep", action="store_true", help="keep the PostgreSQL scratch schema for the next run"
    )
    ap.add_argument("--pg-reuse", action="store_true", help="reuse a kept schema when its row counts match")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json-out", type=Path, default=None)
    args = ap.parse_args()

    lake = Lake(args.data_dir)
    if args.generate and lake.count("person") == 0:
        from cohort_synth import generate

        t0 = time.perf_counter()
        generate(args.data_dir, args.generate, threads=args.threads)
        print(f"generated {args.generate:,} patients in {time.perf_counter() - t0:.1f} s", flush=True)
    sizes = {t: lake.count(t) for t in NEEDED if lake.count(t)}
    print("table rows:", json.dumps(sizes), flush=True)

    loaded = load_file(args.definition)
    t0 = time.perf_counter()
    compiled = compile_expression(loaded.expression)
    compiled.sql("duckdb")
    compiled.sql("postgres")
    compile_ms = (time.perf_counter() - t0) * 1000
    out: dict[str, object] = {
        "definition": loaded.name,
        "rows": sizes,
        "compile_ms_cold": round(compile_ms, 1),
    }

    # 1. DuckDB over Parquet
    con = lake.connect(threads=args.threads)
    cold, warm, res = _time_runs(lambda: run_expression(con, loaded.expression), args.runs, "parquet")
    duck_rows = sorted(
        (r["subject_id"], r["cohort_start_date"], r["cohort_end_date"]) for r in res.rows.to_pylist()
    )  # type: ignore[attr-defined]
    out["duckdb_parquet"] = {
        "cold_ms": round(cold, 1),
        "median_ms": round(statistics.median(warm), 1),
        "runs_ms": [round(w) for w in warm],
        "cpu_median_ms": round(statistics.median(CPU["parquet"]), 1),
        "persons": res.persons,
        "entries": res.entries,  # type: ignore[attr-defined]
        "rules": [(r.name, r.persons_passed, r.persons_remaining) for r in res.rules],
    }  # type: ignore[attr-defined]
    print("duckdb/parquet:", json.dumps(out["duckdb_parquet"], ensure_ascii=False), flush=True)
    con.close()

    # 2. DuckDB in memory
    mem = duckdb.connect(":memory:")
    if args.threads:
        mem.execute(f"SET threads={args.threads}")
    t0 = time.perf_counter()
    for name in NEEDED + ["drug_exposure", "visit_occurrence", "provider"]:
        mem.execute(f'CREATE TABLE "{name}" AS {lake.view_sql(name)}')
    load_s = time.perf_counter() - t0
    cold, warm, res2 = _time_runs(lambda: run_expression(mem, loaded.expression), args.runs, "memory")
    mem_rows = sorted(
        (r["subject_id"], r["cohort_start_date"], r["cohort_end_date"]) for r in res2.rows.to_pylist()
    )  # type: ignore[attr-defined]
    assert mem_rows == duck_rows
    out["duckdb_memory"] = {
        "load_s": round(load_s, 1),
        "cold_ms": round(cold, 1),
        "median_ms": round(statistics.median(warm), 1),
        "runs_ms": [round(w) for w in warm],
        "cpu_median_ms": round(statistics.median(CPU["memory"]), 1),
        "timing_ms": {k: round(v) for k, v in res2.timing_ms.items()},  # type: ignore[attr-defined]
    }
    print("duckdb/memory:", json.dumps(out["duckdb_memory"]), flush=True)

    # 3. PostgreSQL
    if not args.skip_pg:
        import psycopg

        from medlake.cohort.postgres import copy_tables, run_on_postgres

        schema = "ml_cohort_bench"
        pg = psycopg.connect(args.pg_url, autocommit=False)
        t0 = time.perf_counter()
        copy_s = copy_tables(mem, pg, schema, NEEDED)
        with pg.cursor() as cur:
            for name in (
                "person",
                "observation_period",
                "condition_occurrence",
                "measurement",
                "note",
                "note_nlp",
                "image_occurrence",
            ):
                cur.execute(f'CREATE INDEX ON {schema}."{name}" (person_id)')
            cur.execute(f"CREATE INDEX ON {schema}.note (note_id)")
        pg.commit()
        load_pg = time.perf_counter() - t0
        cold, warm, pg_res = _time_runs(lambda: run_on_postgres(pg, compiled, schema), args.runs)
        pg_rows = sorted((r[0], r[1], r[2]) for r in pg_res[0])  # type: ignore[index]
        out["postgres"] = {
            "load_s": round(load_pg, 1),
            "copy_s": {k: round(v, 1) for k, v in copy_s.items()},
            "cold_ms": round(cold, 1),
            "median_ms": round(statistics.median(warm), 1),
            "runs_ms": [round(w) for w in warm],
            "same_cohort_as_duckdb": pg_rows == duck_rows,
            "timing_ms": {k: round(v) for k, v in pg_res[1].items()},  # type: ignore[index]
        }
        duck_ms = out["duckdb_memory"]["median_ms"]  # type: ignore[index]
        out["ratio_postgres_over_duckdb_memory"] = round(out["postgres"]["median_ms"] / duck_ms, 1)  # type: ignore[index]
        out["ratio_postgres_over_duckdb_parquet"] = round(
            out["postgres"]["median_ms"] / out["duckdb_parquet"]["median_ms"], 1
        )  # type: ignore[index]
        print("postgres:", json.dumps(out["postgres"]), flush=True)
        if not args.pg_keep:
            with pg.cursor() as cur:
                cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            pg.commit()
        pg.close()
    print(json.dumps(out, ensure_ascii=False, indent=1, default=str))
    if args.json_out:
        args.json_out.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str))


if __name__ == "__main__":
    main()
