"""Benchmark the master patient index: link N synthetic source records (default 1,000,000).

    .venv/bin/python benchmarks/mpi_bench.py --records 1000000 --work /tmp/mpi-bench [--write-results]

Step 1 (once per work dir) draws a noisy multi-system population with ``medlake.mpi.noisy`` until it
has N source records and lands them in a lake as ``source_person`` plus ``truth.csv``. Step 2 runs
``medlake.mpi.link`` in a fresh process, so that its peak memory (``ru_maxrss``) is the linkage's
own, and reports wall time per phase, peak memory and pairwise precision / recall / F1.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "mpi.md"
RECORDS_PER_PERSON = 2.73  # mean records per person with noisy.SYSTEM_SHARE


def prepare(work: Path, records: int, seed: int) -> None:
    from medlake.cdm.lake import Lake
    from medlake.mpi.noisy import noisy_population

    marker = work / f"prepared-{records}-{seed}"
    if marker.exists():
        return
    t0 = time.perf_counter()
    persons = int(records / RECORDS_PER_PERSON) + 1
    rows, truth = noisy_population(persons, seed=seed)
    rows, truth = rows[:records], truth[:records]
    lake = Lake(work / "lake")
    with lake.transaction() as tx:
        for i in range(0, len(rows), 250_000):
            tx.write("source_person", f"bench-{i // 250_000:03d}", rows[i : i + 250_000])
    with (work / "truth.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["person_key", "system", "local_id"])
        w.writeheader()
        w.writerows(truth)
    marker.touch()
    print(
        f"prepared {len(rows):,} records of {persons:,} persons in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )


def run_link(work: Path, threads: int | None) -> dict[str, object]:
    """In this process: link, then evaluate; timings and peak memory."""
    from medlake.cdm.lake import Lake
    from medlake.mpi import LinkConfig, evaluate, link

    lake = Lake(work / "lake")
    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    result = link(lake, LinkConfig(threads=threads))
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    ev = evaluate(lake, work / "truth.csv")
    return {
        "records": result.records,
        "persons": result.persons,
        "pairs_scored": result.pairs_scored,
        "review_pairs": result.review_pairs,
        "trained": result.trained,
        "link_seconds": round(seconds, 1),
        "phase_seconds": result.seconds,
        "cpu_seconds": round(cpu, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
        "precision": ev.precision,
        "recall": ev.recall,
        "f1": ev.f1,
    }


def write_results(figures: dict[str, Any], cmd: str) -> None:
    load = os.getloadavg()[0]
    text = f"""<!-- mpi_bench -->
## {figures["records"]:,} source records: `{cmd}`

| figure | value |
| --- | --- |
| source records linked | {figures["records"]:,} |
| persons found | {figures["persons"]:,} |
| pairs scored (≥ review threshold) | {figures["pairs_scored"]:,} |
| wall time of `mpi link` (prepare, train u + EM, predict, cluster, write `person_link`) | {figures["link_seconds"]} s |
| of which, per phase | {", ".join(f"{k} {v} s" for k, v in figures["phase_seconds"].items())} |
| CPU time of the linking process (user + system, all threads) | {figures["cpu_seconds"]} s |
| peak memory (ru_maxrss of the linking process) | {figures["peak_rss_mib"]:.0f} MiB |
| pairwise precision / recall / F1 vs truth | {figures["precision"]} / {figures["recall"]} / {figures["f1"]} |

Peer: Splink 5 links 1M records in about 8 s on 2 cores (DuckDB backend; ../shared/README.md; its
data, blocking and whether training is included are not stated). Ours covers the whole `mpi link`:
reading the lake and preparing (pinyin, resident-id check digits), seeded u sampling and two EM
passes, scoring about 4M blocked pairs, clustering and writing `person_link` and the review queue;
the CPU time is the figure to compare on a shared machine.

Data: `medlake.mpi.noisy` (homophone name typos, day/month swaps, missing resident ids, PACS
pinyin names, phone typos, abbreviated addresses; realistic surname skew, so many people share names).

Machine: {platform.machine()}, {os.cpu_count()} cores shared with other engineers' jobs running at the
same time (load average {load:.1f} at the end of the run); Python {platform.python_version()}.
Measured {date.today().isoformat()}.
<!-- /mpi_bench -->"""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Master patient index benchmarks\n\n"
    start, end = old.find("<!-- mpi_bench -->"), old.find("<!-- /mpi_bench -->")
    if start >= 0 and end > start:
        old = old[:start] + text + old[end + len("<!-- /mpi_bench -->") :]
    else:
        old = old.rstrip("\n") + "\n\n" + text + "\n"
    RESULTS.write_text(old, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/mpi-bench"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--write-results", action="store_true", help=f"write {RESULTS}")
    ap.add_argument("--link-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.link_only:
        print(json.dumps(run_link(args.work, args.threads)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    prepare(args.work, args.records, args.seed)
    cmd = [sys.executable, __file__, "--link-only", "--work", str(args.work)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    print(json.dumps(figures, indent=2))
    if args.write_results:
        write_results(figures, f".venv/bin/python benchmarks/mpi_bench.py --records {args.records}")


if __name__ == "__main__":
    main()
