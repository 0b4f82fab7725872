"""Load-test the web app: dashboard and patient-timeline latency (p50/p95/p99) with an asyncio httpx loop.

Starts ``uvicorn`` on the data dir in a subprocess, creates demo accounts (fixed password), logs
in as the clinician and fires requests with a fixed concurrency. The lake comes from
``medlake synth`` + ``medlake ingest`` or, as a stand-in, ``benchmarks/web_lake.py``.

    .venv/bin/python benchmarks/web_load.py --data-dir /tmp/web-bench --requests 300 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx

from medlake.cdm import Lake
from medlake.settings import Settings
from medlake.web.services.demo import create_demo_accounts

PASSWORD = "bench-password-1"
SERVER = """
import sys, uvicorn
from pathlib import Path
from medlake.settings import Settings
from medlake.web.app import create_app
uvicorn.run(create_app(Settings(data_dir=Path(sys.argv[1]))), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning", workers=1)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def run(
    base: str, paths: list[str], concurrency: int, client: httpx.AsyncClient
) -> tuple[list[float], float]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for p in paths:
        queue.put_nowait(p)
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            path = queue.get_nowait()
            t0 = time.perf_counter()
            r = await client.get(base + path)
            latencies.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"{path} -> {r.status_code}")

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - t0


def summary(name: str, concurrency: int, lat: list[float], wall: float) -> str:
    return (
        f"| {name} | {concurrency} | {len(lat)} | {statistics.median(lat):.0f} | {pct(lat, 95):.0f} | {pct(lat, 99):.0f} | "
        f"{max(lat):.0f} | {len(lat) / wall:.1f} |"
    )


async def main_async(args: argparse.Namespace) -> list[str]:
    base = f"http://127.0.0.1:{args.port}"
    con = duckdb.connect()
    con.execute(f"CREATE VIEW person AS {Lake(args.data_dir).view_sql('person')}")
    ids = [r[0] for r in con.execute("SELECT person_id FROM person").fetchall()]
    rng = random.Random(7)
    async with httpx.AsyncClient(timeout=120) as client:
        r = await client.post(f"{base}/api/v1/session", json={"username": "clinician", "password": PASSWORD})
        r.raise_for_status()
        t0 = time.perf_counter()
        (await client.get(f"{base}/dashboard")).raise_for_status()
        cold = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        while (await client.get(f"{base}/api/v1/health")).json()["timeline_index"] != "ready":
            await asyncio.sleep(1)
        index_s = time.perf_counter() - t0
        await run(base, [f"/patients/{rng.choice(ids)}" for _ in range(5)], 1, client)  # warm the connection
        rows = [
            f"cold dashboard (first request after start, aggregates computed): {cold:.0f} ms",
            f"person-sorted timeline indexes ready {index_s:.0f} s after that (built in the background at start)",
            "",
        ]
        rows += [
            "| page | concurrency | requests | p50 ms | p95 ms | p99 ms | max ms | req/s |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for conc in args.concurrency:
            pages = {
                "dashboard (HTML, cached aggregates)": ["/dashboard"] * args.requests,
                "dashboard API (JSON)": ["/api/v1/dashboard"] * args.requests,
                "patient timeline (HTML, audited)": [
                    f"/patients/{rng.choice(ids)}" for _ in range(args.requests)
                ],
                "patient timeline API (JSON, audited)": [
                    f"/api/v1/patients/{rng.choice(ids)}/timeline" for _ in range(args.requests)
                ],
            }
            for name, paths in pages.items():
                lat, wall = await run(base, paths, conc, client)
                rows.append(summary(name, conc, lat, wall))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument(
        "--concurrency", type=lambda v: [int(x) for x in v.split(",")], default=[1, 4], help="e.g. 1,4,8"
    )
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    args.port = args.port or free_port()
    create_demo_accounts(Settings(data_dir=args.data_dir), password=PASSWORD)
    env = {**os.environ, "MEDLAKE_DATA_DIR": str(args.data_dir)}
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(args.data_dir), str(args.port)], env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{args.port}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.3)
        counts = Lake(args.data_dir).counts()
        print(
            f"lake: {counts['person']:,} patients, {counts['visit_occurrence']:,} visits, "
            f"{counts['measurement']:,} labs, {counts['note']:,} notes"
        )
        print(f"{args.requests} requests per page and concurrency level")
        for line in asyncio.run(main_async(args)):
            print(line)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
