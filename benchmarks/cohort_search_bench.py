"""Note full-text search benchmark: bigram index build (full and incremental) and query latency.

Uses the notes of the lake at --data-dir (e.g. the synthetic hospital of ``cohort_synth.py``,
1,000,000 patients -> ~1.4 M notes in 10 parts). Reports the index build time per note part, the
time to bring the index up to date after one new part is ingested, and per-query latency
(median of --runs warm runs with one ``NoteSearcher``; total hit count and top 20 with snippets), with the process CPU time.

    nice -n 10 .venv/bin/python benchmarks/cohort_search_bench.py --data-dir /tmp/ml-bench-1m
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from pathlib import Path

from medlake.cdm.lake import Lake
from medlake.search import NoteSearcher, update_index

QUERIES = [
    "肺转移",
    "考虑肺转移瘤",
    "糖尿病 高血压",
    "转移 NOT 未见",
    '"HbA1c" OR 二甲双胍',
    "结节 -双肺",
    "咳嗽 咳痰 低热",
    "肿大淋巴结",
    "(高血压 OR 糖尿病) 否认",
    "印象",
]


def main() -> None:
    ap = argparse.ArgumentParser(description="note search benchmark")
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json-out", type=Path, default=None)
    args = ap.parse_args()
    lake = Lake(args.data_dir)
    out: dict[str, object] = {"notes": lake.count("note"), "note_parts": len(lake.parts("note"))}
    t0 = time.perf_counter()
    up = update_index(lake, threads=args.threads)
    out["index_build_s"] = round(time.perf_counter() - t0, 1)
    out["index_parts_built"] = len(up.built)
    out["index_mb"] = round((lake.root / "search" / "note_index.duckdb").stat().st_size / 1e6, 1)
    print(json.dumps(out), flush=True)
    # incremental: one new part of 1,000 notes
    new = [
        {
            "note_id": 9_000_000_000 + i,
            "person_id": i,
            "note_date": dt.date(2024, 1, 1),
            "note_source_value": "影像报告",
            "note_text": "双肺多发结节，考虑肺转移瘤，请结合临床。新增报告。",
        }
        for i in range(1000)
    ]
    with lake.transaction() as tx:
        tx.write("note", "bench-incremental", new)
    t0 = time.perf_counter()
    up = update_index(lake, threads=args.threads)
    out["incremental_update_s"] = round(time.perf_counter() - t0, 2)
    out["incremental_built"] = up.built
    searcher = NoteSearcher(lake, update=False, threads=args.threads)
    results = {}
    for q in QUERIES:
        times, cpu = [], []
        res = None
        for _ in range(args.runs + 1):
            c0 = time.process_time()
            res = searcher.search(q, limit=20)
            times.append(res.took_ms)
            cpu.append((time.process_time() - c0) * 1000)
        assert res is not None
        results[q] = {
            "total": res.total,
            "cold_ms": round(times[0], 1),
            "median_ms": round(statistics.median(times[1:]), 1),
            "max_ms": round(max(times[1:]), 1),
            "cpu_median_ms": round(statistics.median(cpu[1:]), 1),
        }
        print(q, json.dumps(results[q]), flush=True)
    searcher.close()
    with lake.transaction() as tx:
        tx.delete("note", "bench-incremental")
    update_index(lake)
    out["queries"] = results
    meds = [r["median_ms"] for r in results.values()]
    out["median_of_medians_ms"] = statistics.median(meds)
    out["worst_median_ms"] = max(meds)
    print(json.dumps(out, ensure_ascii=False, indent=1))
    if args.json_out:
        args.json_out.write_text(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
