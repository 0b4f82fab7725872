"""Benchmark of the synthetic hospital generator: patients per second and peak memory.

    .venv/bin/python benchmarks/synth_bench.py --patients 100000 --workers 2
    .venv/bin/python benchmarks/synth_bench.py --patients 1000000 --workers 2   # optional, long

Runs ``medlake.synth.generate`` into a temporary directory (or ``--out``) and prints wall time,
CPU time, patients/s, the peak resident set size of this process and of the worker processes
(``resource.getrusage``), and the size of the output.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from medlake.synth import SynthConfig, generate


def _tree_size(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--out", type=Path, default=None, help="output dir (default: a temporary dir, removed after)"
    )
    ap.add_argument("--xlsx-engine", default="stream", choices=["stream", "openpyxl"])
    args = ap.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="synth-bench-")) / "hospital"
    config = SynthConfig(patients=args.patients, seed=args.seed, out=out, xlsx_engine=args.xlsx_engine)
    t0 = time.perf_counter()
    c0 = time.process_time()
    summary = generate(config, workers=args.workers)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    n_files, n_bytes = _tree_size(out)
    result = {
        "patients": args.patients,
        "workers": args.workers,
        "wall_s": round(wall, 1),
        "main_cpu_s": round(cpu, 1),
        "workers_cpu_s": round(child.ru_utime + child.ru_stime, 1),
        "patients_per_s": round(args.patients / wall),
        "peak_rss_main_mb": round(self_rss),
        "peak_rss_worker_mb": round(child.ru_maxrss / 1024),
        "files": n_files,
        "output_mb": round(n_bytes / 2**20),
        "notes": summary.notes,
        "lab_messages": summary.lab_messages,
        "dicom_files": summary.dicom_files,
        "lis_files": summary.lis_files,
        "xlsx_files": summary.files.get("xlsx", 1),
    }
    print(json.dumps(result, indent=2))
    if args.out is None:
        shutil.rmtree(out.parent)


if __name__ == "__main__":
    main()
