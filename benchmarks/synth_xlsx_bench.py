"""Drug-order workbook writers compared: openpyxl write-only mode vs the streaming writer.

    .venv/bin/python benchmarks/synth_xlsx_bench.py --rows 20000

Prints CPU microseconds per 11-cell row for each engine (the drug-order sheet's shape).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from medlake.synth.writers.his import OrderBooks


def _rows(n: int) -> list[list[str]]:
    return [
        [f"O{i:010d}", f"V{i:010d}", "H00000001", "YP0001", "多西他赛注射液", "120", "mg", "静脉滴注", "q3w",
         "2020-01-01 10:00:00", "2020-01-02 10:00:00"]
        for i in range(n)
    ]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=20_000)
    args = ap.parse_args()
    rows = _rows(args.rows)
    for engine in ("stream", "openpyxl"):
        with tempfile.TemporaryDirectory() as d:
            t0 = time.process_time()
            books = OrderBooks(Path(d), engine)
            books.append(rows)
            paths = books.close()
            cpu = time.process_time() - t0
            size = sum(p.stat().st_size for p in paths)
        print(f"{engine:9s} {cpu / args.rows * 1e6:7.1f} µs/row CPU  {size / 1024:8.0f} KiB")


if __name__ == "__main__":
    main()
