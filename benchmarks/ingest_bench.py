"""Ingest benchmark: synthesise N patients, ingest them, report CDM rows/s and peak memory.

    .venv/bin/python benchmarks/ingest_bench.py --patients 100000 [--workdir /tmp/ingest-bench]

Each step runs as its own process (``medlake synth``, ``medlake ingest``) so its peak RSS is its
own (``ru_maxrss`` of the child). The peer, run side by side on the same files: a plain pandas
load of the HIS CSVs to Parquet (no validation, no lineage, no ids) — what a quick hand-written
ETL script does — reported as rows/s on the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from medlake.cdm.schema import TABLES

BIN = Path(sys.executable).parent
#: OMOP CDM rows: the clinical tables (with lineage) and the dimensions; linkage tables are counted apart
CDM_TABLES = {t.name for t in TABLES.values() if t.clinical} | {"location", "care_site", "provider"}


def measured(cmd: list[str]) -> tuple[float, float]:
    wrapper = [sys.executable, __file__, "--child", "--", *cmd]
    out = subprocess.run(wrapper, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    d = json.loads(out)
    return float(d["seconds"]), float(d["peak_mib"])


def _tree_rss_kib(root: int) -> int:
    """Resident memory of a process and all its descendants (the ingest's worker processes), in KiB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as fh:
                total += next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
        except OSError:
            continue
    return total


def pandas_peer(src: Path, work: Path) -> tuple[int, float]:
    import pandas as pd

    rows = 0
    t0 = time.perf_counter()
    out = work / "peer-parquet"
    out.mkdir(exist_ok=True)
    for f in sorted((src / "his").glob("*.csv")):
        for enc in ("utf-8-sig", "gbk"):
            try:
                df = pd.read_csv(f, encoding=enc, dtype=str)
                break
            except UnicodeDecodeError:
                continue
        rows += len(df)
        df.to_parquet(out / (f.stem + ".parquet"))
    return rows, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/medlake-ingest-bench"))
    ap.add_argument("--source", type=Path, help="reuse an existing `medlake synth` output (synth not timed)")
    ap.add_argument("--child", action="store_true")
    ap.add_argument("cmd", nargs="*")
    a = ap.parse_args()
    if a.child:
        # peak memory = the largest sum over the process tree (main + workers), sampled every 0.2 s
        t0 = time.perf_counter()
        proc = subprocess.Popen(a.cmd, stdout=subprocess.DEVNULL)
        peak_kib = 0
        while proc.poll() is None:
            peak_kib = max(peak_kib, _tree_rss_kib(proc.pid))
            time.sleep(0.2)
        if proc.returncode:
            raise SystemExit(f"{a.cmd[:2]} failed with exit status {proc.returncode}")
        single = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(json.dumps({"seconds": time.perf_counter() - t0, "peak_mib": max(peak_kib, single) / 1024}))
        return
    work = a.workdir
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    src, data = work / "hospital", work / "data"
    medlake = str(BIN / "medlake")
    if a.source:
        src, synth_s, synth_mib = a.source, float("nan"), float("nan")
    else:
        synth_s, synth_mib = measured(
            [medlake, "synth", "--patients", str(a.patients), "--seed", str(a.seed), "--out", str(src)]
        )
    ingest_s, ingest_mib = measured([medlake, "ingest", str(src), "--data-dir", str(data), "--quiet"])
    stats = json.loads(
        subprocess.run(
            [medlake, "stats", "--data-dir", str(data), "--json"], check=True, capture_output=True, text=True
        ).stdout
    )
    # OMOP CDM rows (clinical tables, dimensions and image_occurrence); linkage tables counted apart
    cdm_rows = sum(v for k, v in stats["tables"].items() if k in CDM_TABLES)
    linkage_rows = sum(v for k, v in stats["tables"].items() if k in {"source_person", "person_link"})
    peer_rows, peer_s = pandas_peer(src, work)
    result = {
        "patients": a.patients,
        "cpu_count": os.cpu_count(),
        "synth_seconds": round(synth_s, 1),
        "synth_peak_mib": None if a.source else round(synth_mib),
        "ingest_seconds": round(ingest_s, 1),
        "ingest_peak_mib": round(ingest_mib),
        "cdm_rows": cdm_rows,
        "linkage_rows": linkage_rows,
        "quarantine": stats["quarantine"],
        "ingest_rows_per_s": round(cdm_rows / ingest_s),
        "end_to_end_rows_per_s": None if a.source else round(cdm_rows / (synth_s + ingest_s)),
        "peer_pandas_his_rows": peer_rows,
        "peer_pandas_rows_per_s": round(peer_rows / peer_s),
        "tables": stats["tables"],
    }
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
