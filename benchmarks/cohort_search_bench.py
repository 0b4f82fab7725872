"""Note full-text search benchmark: index build (full, incremental, re-ingest) and query latency.

Uses the notes of the lake at --data-dir (e.g. the synthetic hospital of ``cohort_synth.py``,
1,000,000 patients -> ~1.4 M notes in 10 parts). Reports:

- full index build time and size, the time to take in one new part of 1,000 notes, and the time
  to take in a re-ingest of that part (same notes, rewritten): the hit count must not change;
- per query (labelled by class): a cold run (the index files evicted from the page cache with
  ``posix_fadvise(DONTNEED)``, then a fresh ``NoteSearcher``), the median and p95 of --runs warm
  runs, the process CPU time, and ``search_notes`` per call as the web page and CLI use it (opens
  the index and checks it is up to date each time);
- the peer on the same notes: DuckDB scanning the lake's Parquet with ``contains(lower(note_text), …)``
  (same boolean logic, exact count, same top-20 order), and optionally the previous implementation
  (DuckDB bigram index) given as an importable package ``oldsearch`` in --legacy DIR. Totals and
  top-20 note ids are checked against the peers (a mismatch is printed and fails the run).

    nice -n 10 .venv/bin/python benchmarks/cohort_search_bench.py --data-dir /tmp/ml-bench-1m --rebuild

The synthetic notes repeat a few dozen sentences; ``--generate-from DIR`` first writes a lake of
notes made of real Chinese clinical sentences instead (from the Yidu-S4K and CCKS 2017 texts under
DIR, e.g. ../shared/data; each note 3-8 random sentences, fixed seed), so the bigram vocabulary and
posting lengths look like a hospital's:

    nice -n 10 .venv/bin/python benchmarks/cohort_search_bench.py --data-dir /tmp/ml-notes-real \
        --generate-from ../shared/data --notes 1000000 --rebuild
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from medlake.cdm.lake import Lake
from medlake.search import NoteSearcher, parse_query, search_notes, update_index
from medlake.search.query import Node, Not, Or, Term

QUERIES = [
    ("selective", "肺转移"),
    ("selective phrase", "考虑肺转移瘤"),
    ("selective NOT", "转移 NOT 未见"),
    ("selective NOT", "结节 -双肺"),
    ("broad 2-char", "印象"),
    ("broad 1-char", "肺"),
    ("broad phrase", "肿大淋巴结"),
    ("broad phrase", "双肺未见明显异常"),
    ("broad OR", '"HbA1c" OR 二甲双胍'),
    ("broad AND", "咳嗽 咳痰 低热"),
    ("broad AND", "糖尿病 高血压"),
    ("broad OR+AND", "(高血压 OR 糖尿病) 否认"),
    ("broad NOT", "未见 NOT 肺转移"),
]

REAL_QUERIES = [  # for --generate-from lakes (real sentences)
    ("selective", "肺转移"),
    ("selective phrase", "直肠癌根治术"),
    ("selective AND", "胸闷 气短"),
    ("selective AND", "高血压 糖尿病"),
    ("broad 2-char", "患者"),
    ("broad 1-char", "癌"),
    ("broad 1-char", "。"),
    ("broad phrase", "淋巴结"),
    ("broad phrase", "无明显诱因"),
    ("broad OR", "腹痛 OR 腹胀"),
    ("broad OR", "胃癌 OR 肺癌 OR 肝癌"),
    ("broad AND", "术后 病理"),
    ("broad NOT", "化疗 NOT 放疗"),
    ("broad NOT", "考虑 NOT 排除"),
    ("broad OR+AND+NOT", "(化疗 OR 放疗) 术后 -复发"),
]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def evict(paths: list[Path]) -> None:
    """Drop these files' pages from the page cache (only ours; the rest of the machine is untouched)."""
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for f in files:
            fd = os.open(f, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def stats(ms: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(statistics.quantiles(ms, n=20, method="inclusive")[18], 1),
    }


def like_sql(node: Node, params: list[Any]) -> str:
    if isinstance(node, Term):
        params.append(node.text)
        return "contains(lower(note_text), ?)"
    if isinstance(node, Not):
        return f"NOT ({like_sql(node.item, params)})"
    joiner = " OR " if isinstance(node, Or) else " AND "
    return "(" + joiner.join(like_sql(i, params) for i in node.items) + ")"


class LikePeer:
    """The same query answered by scanning note text with DuckDB (no index)."""

    def __init__(self, lake: Lake, threads: int | None) -> None:
        self.con = duckdb.connect(":memory:")
        if threads:
            self.con.execute(f"SET threads={int(threads)}")
        self.con.execute(f"CREATE VIEW notes AS {lake.view_sql('note')}")

    def search(self, q: str) -> tuple[int, list[int]]:
        params: list[Any] = []
        where = like_sql(parse_query(q), params)
        rows = self.con.execute(
            f"SELECT note_id, COUNT(*) OVER () FROM notes WHERE note_text IS NOT NULL AND {where} "
            "ORDER BY note_date DESC NULLS LAST, note_id LIMIT 20",
            params,
        ).fetchall()
        return (int(rows[0][1]) if rows else 0), [int(r[0]) for r in rows]


def time_runs(fn: Any, runs: int) -> tuple[list[float], list[float], Any]:
    wall, cpu, res = [], [], None
    for _ in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        res = fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return wall, cpu, res


def corpus_sentences(root: Path) -> list[str]:
    texts = []
    yidu = root / "yidu_s4k" / "train.jsonl"
    if yidu.exists():
        for line in yidu.read_text(encoding="utf-8").splitlines():
            texts.append(json.loads(line)["originalText"])
    texts.extend(p.read_text(encoding="utf-8") for p in sorted((root / "ccks2017").rglob("*original.txt")))
    out = []
    for text in texts:
        for s in re.split(r"(?<=[。；！？])", text.replace("\n", "")):
            s = s.strip('，, \t"“”')
            if 4 <= len(s) <= 200:
                out.append(s)
    return sorted(set(out))


def generate_notes(lake: Lake, root: Path, n: int, parts: int = 10) -> None:
    sentences = np.array(corpus_sentences(root), dtype=object)
    if not len(sentences):
        raise SystemExit(f"no Yidu-S4K / CCKS 2017 texts under {root}")
    rng = np.random.default_rng(20261122)
    base = dt.date(2015, 1, 1)
    with lake.transaction() as tx:
        for part in range(parts):
            lo, hi = part * n // parts, (part + 1) * n // parts
            counts = rng.integers(3, 9, hi - lo)
            picks = rng.integers(0, len(sentences), int(counts.sum()))
            ends = np.cumsum(counts)
            texts = ["".join(sentences[picks[e - c : e]]) for c, e in zip(counts, ends, strict=True)]
            days = rng.integers(0, 3650, hi - lo)
            tx.write(
                "note",
                f"real-{part:02d}",
                pa.table(
                    {
                        "note_id": pa.array(np.arange(lo, hi) + 1, pa.int64()),
                        "person_id": pa.array(np.arange(lo, hi) // 2 + 1, pa.int64()),
                        "note_date": pa.array([base + dt.timedelta(days=int(d)) for d in days], pa.date32()),
                        "note_title": pa.array(["病程记录"] * (hi - lo)),
                        "note_source_value": pa.array(["病程记录"] * (hi - lo)),
                        "note_text": pa.array(texts),
                    }
                ),
            )
    print(f"generated {n:,} notes from {len(sentences):,} distinct sentences", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description="note search benchmark")
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--peer-runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument(
        "--legacy", type=Path, default=None, help="dir with the previous implementation as `oldsearch`"
    )
    ap.add_argument("--json-out", type=Path, default=None)
    ap.add_argument("--rebuild", action="store_true", help="delete the index first, to time a full build")
    ap.add_argument("--generate-from", type=Path, default=None, help="write real-sentence notes first")
    ap.add_argument("--notes", type=int, default=1_000_000)
    ap.add_argument("--real-queries", action="store_true", help="the query set for real-sentence lakes")
    args = ap.parse_args()
    lake = Lake(args.data_dir)
    if args.generate_from:
        generate_notes(lake, args.generate_from, args.notes)
    seg_dir = lake.root / "search" / "segments"
    if args.rebuild:
        shutil.rmtree(seg_dir, ignore_errors=True)
        (lake.root / "search" / "manifest.json").unlink(missing_ok=True)
    out: dict[str, Any] = {
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_start": load(),
        "cpus": os.cpu_count(),
        "notes": lake.count("note"),
        "note_parts": len(lake.parts("note")),
    }
    t0 = time.perf_counter()
    up = update_index(lake)
    out["index_build_s"] = round(time.perf_counter() - t0, 1)
    out["index_parts_built"] = len(up.built)
    out["index_mb"] = round(sum(p.stat().st_size for p in seg_dir.rglob("*") if p.is_file()) / 1e6, 1)
    print(json.dumps(out), flush=True)

    # incremental ingestion: one new part of 1,000 notes, then a re-ingest of the same part
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
    before = NoteSearcher(lake, update=False).search("新增报告").total
    with lake.transaction() as tx:
        tx.write("note", "bench-incremental", new)
    holder = NoteSearcher(lake, update=False)  # a reader holding the old snapshot must not block the update
    t0 = time.perf_counter()
    up = update_index(lake)
    out["incremental_update_s"] = round(time.perf_counter() - t0, 2)
    out["incremental_built"] = up.built
    after = NoteSearcher(lake, update=False).search("新增报告").total
    with lake.transaction() as tx:
        tx.write("note", "bench-incremental", new)
    t0 = time.perf_counter()
    update_index(lake)
    out["reingest_update_s"] = round(time.perf_counter() - t0, 2)
    again = NoteSearcher(lake, update=False).search("新增报告").total
    out["new_note_hits_before_after_reingest"] = [before, after, again, holder.search("新增报告").total]
    holder.close()
    print(json.dumps(out, ensure_ascii=False), flush=True)

    like = LikePeer(lake, args.threads)
    legacy = None
    if args.legacy:
        sys.path.insert(0, str(args.legacy))
        from oldsearch import NoteSearcher as LegacySearcher  # type: ignore[import-not-found]
        from oldsearch import update_index as legacy_update  # type: ignore[import-not-found]

        legacy_update(lake)
        legacy = LegacySearcher(lake, update=False, threads=args.threads)

    results, mismatches = {}, []
    for cls, q in REAL_QUERIES if args.generate_from or args.real_queries else QUERIES:
        evict([seg_dir])
        t0 = time.perf_counter()
        fresh = NoteSearcher(lake, update=False)
        cold_total = fresh.search(q).total
        cold_ms = (time.perf_counter() - t0) * 1000
        fresh.close()
        searcher = NoteSearcher(lake, update=False)
        wall, cpu, res = time_runs(lambda q=q, s=searcher: s.search(q), args.runs)
        searcher.close()
        call_wall, _, _ = time_runs(lambda q=q: search_notes(lake, q), max(5, args.runs // 4))
        row: dict[str, Any] = {"class": cls, "total": res.total, "cold_ms": round(cold_ms, 1), **stats(wall)}
        row["cpu_median_ms"] = round(statistics.median(cpu), 1)
        row["search_notes_median_ms"] = round(statistics.median(call_wall), 1)
        ids = [h.note_id for h in res.hits]
        if cold_total != res.total:
            mismatches.append((q, "cold", cold_total, res.total))
        pw, _, (ptotal, pids) = time_runs(lambda q=q: like.search(q), args.peer_runs)
        row["like_total"], row["like_median_ms"] = ptotal, round(statistics.median(pw), 1)
        if (ptotal, pids) != (res.total, ids):
            mismatches.append((q, "like", ptotal, res.total))
        if legacy is not None:
            lw, _, lres = time_runs(lambda q=q: legacy.search(q), max(3, args.peer_runs))
            row["legacy_median_ms"] = round(statistics.median(lw), 1)
            if (lres.total, [h.note_id for h in lres.hits]) != (res.total, ids):
                mismatches.append((q, "legacy", lres.total, res.total))
        results[q] = row
        print(q, json.dumps(row, ensure_ascii=False), flush=True)
    if legacy is not None:
        legacy.close()
    with lake.transaction() as tx:
        tx.delete("note", "bench-incremental")
    update_index(lake)
    out["queries"] = results
    out["worst_median_ms"] = max(r["median_ms"] for r in results.values())
    out["worst_p95_ms"] = max(r["p95_ms"] for r in results.values())
    out["worst_cold_ms"] = max(r["cold_ms"] for r in results.values())
    out["load_end"] = load()
    out["mismatches"] = mismatches
    print(json.dumps(out, ensure_ascii=False, indent=1))
    if args.json_out:
        args.json_out.write_text(json.dumps(out, ensure_ascii=False, indent=1))
    if mismatches:
        raise SystemExit(f"results differ from the peer: {mismatches}")


if __name__ == "__main__":
    main()
