"""Load benchmark of the CDS Hooks service: POST /cds-services/{id} at a fixed request rate.

Builds a toy lake (or uses --data-dir with a published model), trains and publishes a LightGBM
model, starts ``medlake model serve`` in its own process and drives it over HTTP with an open-loop
generator at --rate requests/s for --seconds: with a full FHIR prefetch, with no prefetch (every
feature from the lake by person_id) and, with --partial-rate, with a partial prefetch (the
operation from the prefetch, the other features queried from the lake per call). The generator is
light on purpose (one asyncio loop, raw HTTP/1.1 on keep-alive sockets) because it shares the
machine's 2 cores with the server; ``--generator httpx-threads`` is the former, heavier one, for
comparison. Prints p50/p95/p99/max latency and the 1-minute load average after each scenario;
then, as the peer, the same engine called in-process.

    .venv/bin/python benchmarks/cdss_bench.py --rate 100 --seconds 60 --lake-rate 100 --partial-rate 20
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(data_dir: Path, patients: int) -> tuple[str, list[int]]:
    from medlake.cdm.lake import Lake
    from medlake.models import Registry, StaticDirectory, train
    from medlake.models.toylake import build_toy_lake, toy_spec

    truth = build_toy_lake(data_dir, n=patients, seed=1)
    reg = Registry(data_dir)
    spec = toy_spec().with_algorithm("lightgbm", {"num_leaves": [8], "num_boost_round": [200]})
    m = train(Lake(data_dir).connect(), spec, reg, trainer="bench")
    reg.transition(m["task"], m["version"], "validated", by="bench")
    reg.transition(
        m["task"], m["version"], "published", by="steward", users=StaticDirectory({"steward": {"steward"}})
    )
    people = sorted(truth)
    (data_dir / "bench-people.json").write_text(json.dumps(people), encoding="utf-8")
    return m["task"], people


def lake_people(data_dir: Path) -> list[int]:
    """The toy cohort's person ids saved by ``prepare`` (else the lake's first persons)."""
    saved = data_dir / "bench-people.json"
    if saved.exists():
        return [int(p) for p in json.loads(saved.read_text(encoding="utf-8"))]
    from medlake.cdm.lake import Lake

    rows = Lake(data_dir).connect().execute("SELECT person_id FROM person ORDER BY 1 LIMIT 2000").fetchall()
    return [int(r[0]) for r in rows]


def prefetch_body(i: int) -> dict[str, Any]:
    def bundle(*res: dict[str, Any]) -> dict[str, Any]:
        return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in res]}

    obs = [
        {
            "resourceType": "Observation",
            "code": {"coding": [{"code": "WT"}]},
            "effectiveDateTime": "2024-03-02T08:00:00",
            "valueQuantity": {"value": 2.5 + (i % 40) / 10},
        },
        {
            "resourceType": "Observation",
            "code": {"coding": [{"code": "CPB"}]},
            "effectiveDateTime": "2024-03-03T10:00:00",
            "valueQuantity": {"value": 60 + i % 120},
        },
    ]
    cond = (
        [
            {
                "resourceType": "Condition",
                "code": {"coding": [{"code": "I28.801"}]},
                "onsetDateTime": "2024-03-01",
            }
        ]
        if i % 3 == 0
        else []
    )
    return {
        "patient": {
            "resourceType": "Patient",
            "id": f"p{i}",
            "gender": "male" if i % 2 else "female",
            "birthDate": "2023-12-01",
        },
        "procedures": bundle(
            {
                "resourceType": "Procedure",
                "code": {"coding": [{"code": "35.8201"}]},
                "performedDateTime": "2024-03-03T09:00:00",
            }
        ),
        "observations": bundle(*obs),
        "conditions": bundle(*cond),
    }


def server_cpu_seconds(root: int) -> float:
    """CPU time (user + system) used so far by process ``root`` and its descendants (Linux /proc)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
        )
    wanted, total = {root}, 0.0
    changed = True
    while changed:
        changed = False
        for pid, (ppid, _) in stats.items():
            if ppid in wanted and pid not in wanted:
                wanted.add(pid)
                changed = True
    for pid in wanted:
        total += stats.get(pid, (0, 0.0))[1]
    return total


def _request_bytes(host: str, path: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next(
        (int(v) for k, _, v in (h.partition(":") for h in lines[1:]) if k.lower() == "content-length"), 0
    )
    return status, await reader.readexactly(length)


def drive(
    url: str, bodies: list[dict[str, Any]], rate: float, connections: int = 16
) -> tuple[list[float], int]:
    """Open-loop load: request i is due at start + i/rate; latency counts from when it was due.

    A light generator on purpose (it shares the 2 cores with the server): one asyncio loop, raw
    HTTP/1.1 over ``connections`` keep-alive sockets, requests serialised before the clock starts,
    the garbage collector off while it runs. A request waits for a free connection, so a slow
    server shows up as latency (no coordinated omission), not as a slower sender.
    """
    parsed = httpx.URL(url)
    host, port, path = parsed.host, parsed.port or 80, parsed.raw_path.decode()
    wire = [_request_bytes(f"{host}:{port}", path, b) for b in bodies]

    async def run() -> tuple[list[float], int]:
        pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        for _ in range(connections):
            pool.put_nowait(await asyncio.open_connection(host, port))
        latencies: list[float] = []
        errors = 0

        async def one(due: float, data: bytes) -> None:
            nonlocal errors
            reader, writer = await pool.get()
            try:
                writer.write(data)
                status, payload = await _read_response(reader)
                ok = status == 200 and b'"cards":[{' in payload
            except (OSError, asyncio.IncompleteReadError, ValueError):
                ok = False
                reader, writer = await asyncio.open_connection(host, port)
            latencies.append((time.perf_counter() - due) * 1000)
            errors += 0 if ok else 1
            pool.put_nowait((reader, writer))

        tasks = []
        start = time.perf_counter() + 0.05
        for i, data in enumerate(wire):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due, data)))
        await asyncio.gather(*tasks)
        while not pool.empty():
            pool.get_nowait()[1].close()
        return latencies, errors

    gc.disable()
    try:
        return asyncio.run(run())
    finally:
        gc.enable()


def drive_threads(
    url: str, bodies: list[dict[str, Any]], rate: float, workers: int = 16
) -> tuple[list[float], int]:
    """The former generator, kept for comparison: httpx clients in ``workers`` threads, same open loop.

    Heavier on the client side (httpx per request, thread hand-offs under the GIL), which on a
    2-core machine takes CPU from the server under test.
    """
    jobs: queue.Queue[tuple[float, dict[str, Any]] | None] = queue.Queue()
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=10) as client:
            while (job := jobs.get()) is not None:
                due, body = job
                try:
                    r = client.post(url, json=body)
                    ok = r.status_code == 200 and bool(r.json()["cards"])
                except httpx.HTTPError:
                    ok = False
                with lock:
                    latencies.append((time.perf_counter() - due) * 1000)
                    errors[0] += 0 if ok else 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    start = time.perf_counter() + 0.05
    for i, body in enumerate(bodies):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        jobs.put((due, body))
    for _ in threads:
        jobs.put(None)
    for t in threads:
        t.join()
    return latencies, errors[0]


def in_process(data_dir: Path, service: str, people: list[int], n: int = 200) -> list[dict[str, Any]]:
    """Peer figure: the same engine (store, audit) called in-process (no HTTP, no JSON), one call at a time."""
    from medlake.cdss.app import build_engine
    from medlake.settings import Settings
    from medlake.store.migrate import upgrade

    settings = Settings(data_dir=data_dir)
    upgrade(settings)
    engine = build_engine(settings)
    engine.warm()
    out = []
    for name, make in (
        (
            "in-process, full prefetch",
            lambda i: {"context": {"patientId": f"x{i}"}, "prefetch": prefetch_body(i)},
        ),
        ("in-process, no prefetch", lambda i: {"context": {"patientId": str(people[i % len(people)])}}),
    ):
        bodies = [{"hook": "patient-view", "hookInstance": "b"} | make(i) for i in range(n)]
        engine.call(service, bodies[0])
        lat = []
        for b in bodies:
            t0 = time.perf_counter()
            engine.call(service, b)
            lat.append((time.perf_counter() - t0) * 1000)
        out.append(summary(name, lat, 0, sum(lat) / 1000) | {"target_rps": 0})
    return out


def summary(name: str, lat: list[float], errors: int, seconds: float) -> dict[str, Any]:
    q = statistics.quantiles(lat, n=100)
    return {
        "scenario": name,
        "requests": len(lat),
        "errors": errors,
        "achieved_rps": round(len(lat) / seconds, 1),
        "p50_ms": round(q[49], 2),
        "p95_ms": round(q[94], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(max(lat), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--patients", type=int, default=2000, help="toy lake size")
    ap.add_argument("--lake-rate", type=float, default=100.0, help="request rate of the no-prefetch scenario")
    ap.add_argument(
        "--partial-rate",
        type=float,
        default=0.0,
        help="request rate of a partial-prefetch scenario (index from the prefetch, the rest queried per call)",
    )
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data dir with a published model (the toy lake is built there first when it does not exist)",
    )
    ap.add_argument("--service", default=None, help="service id when --data-dir is given")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes")
    ap.add_argument("--clients", type=int, default=16, help="keep-alive connections of the load generator")
    ap.add_argument(
        "--generator",
        choices=["asyncio", "httpx-threads"],
        default="asyncio",
        help="load generator: light asyncio raw HTTP (default) or the former httpx thread pool",
    )
    ap.add_argument("--no-in-process", action="store_true", help="skip the in-process peer")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="cdss-bench-")
    if args.data_dir is None or not args.data_dir.exists():
        data_dir = args.data_dir or Path(tmp.name) / "data"
        service, people = prepare(data_dir, args.patients)
    else:
        data_dir, service, people = args.data_dir, args.service, lake_people(args.data_dir)
    port = _free_port()
    env = os.environ | {"MEDLAKE_DATA_DIR": str(data_dir)}
    env.pop("MEDLAKE_DATABASE_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "medlake.cli",
            "model",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--workers",
            str(args.workers),
        ],
        env=env,
        cwd=REPO,
    )
    base = f"http://127.0.0.1:{port}"
    results: list[dict[str, Any]] = []
    try:
        for _ in range(200):
            try:
                services = httpx.get(f"{base}/cds-services", timeout=1).json()["services"]
                service = service or services[0]["id"]
                break
            except (httpx.HTTPError, KeyError, IndexError):
                time.sleep(0.1)
        url = f"{base}/cds-services/{service}"

        def body(i: int, mode: str) -> dict[str, Any]:
            b: dict[str, Any] = {"hook": "patient-view", "hookInstance": str(uuid.uuid4())}
            if mode == "full":
                b |= {"context": {"patientId": f"ext-{i}"}, "prefetch": prefetch_body(i)}
            elif mode == "none":
                b |= {"context": {"patientId": str(people[i % len(people)])}}
            else:  # the patient and the operation only: the other features are queried per call
                full = prefetch_body(i)
                pre = {"patient": full["patient"], "procedures": full["procedures"]}
                b |= {"context": {"patientId": str(people[i % len(people)])}, "prefetch": pre}
            return b

        scenarios = [("full prefetch", "full", args.rate)]
        if people:
            scenarios.append(("no prefetch (lake by person_id)", "none", args.lake_rate))
            if args.partial_rate:
                scenarios.append(("partial prefetch (lake query per call)", "partial", args.partial_rate))
        for name, mode, rate in scenarios:
            drive(url, [body(i, mode) for i in range(20)], 10)  # warm-up
            n = int(rate * args.seconds)
            print(f"{name}: {n} requests at {rate:g}/s", file=sys.stderr)
            t0, cpu0 = time.perf_counter(), server_cpu_seconds(proc.pid)
            send = drive if args.generator == "asyncio" else drive_threads
            lat, errors = send(url, [body(i, mode) for i in range(n)], rate, args.clients)
            load = f"{os.getloadavg()[0]:.2f}"
            cpu_ms = round((server_cpu_seconds(proc.pid) - cpu0) * 1000 / max(1, len(lat)), 2)
            results.append(
                summary(name, lat, errors, time.perf_counter() - t0)
                | {"target_rps": rate, "load1": load, "server_cpu_ms": cpu_ms}
            )
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    if people and not args.no_in_process:
        results += in_process(data_dir, str(service), people)
    tmp.cleanup()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(
            "| scenario | target req/s | requests | errors | achieved req/s | p50 ms | p95 ms | p99 ms | max ms "
            "| server CPU ms/request | load (1 min) |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in results:
            print(
                f"| {r['scenario']} | {r['target_rps'] or 'sequential'} | {r['requests']} | {r['errors']} | {r['achieved_rps']} "
                f"| {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} | {r.get('server_cpu_ms', '')} "
                f"| {r.get('load1', '')} |"
            )


if __name__ == "__main__":
    main()
