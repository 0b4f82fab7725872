"""Load benchmark of the CDS Hooks service: POST /cds-services/{id} at a fixed request rate.

Builds a toy lake (or uses --data-dir with a published model), trains and publishes a LightGBM
model, starts ``medlake model serve`` in its own process and drives it with an open-loop httpx
thread-pool client at --rate requests/s for --seconds, once with a full FHIR prefetch and once with
no prefetch (every feature read from the lake by person_id). Prints p50/p95/p99/max latency.

    .venv/bin/python benchmarks/cdss_bench.py --rate 100 --seconds 30
"""

from __future__ import annotations

import argparse
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
    return m["task"], sorted(truth)


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


def drive(url: str, bodies: list[dict[str, Any]], rate: float, workers: int = 32) -> tuple[list[float], int]:
    """Open loop: request i is due at start + i/rate; latency counts from when it was due.

    Worker threads with their own keep-alive connections take due requests from a queue, so a
    slow server shows up as latency (no coordinated omission) rather than as a slower sender.
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
    """Peer figure: the same engine called in-process (no HTTP, no JSON), one call at a time."""
    from sqlalchemy import create_engine

    from medlake.cdss.service import CdsEngine
    from medlake.cdss.store import CdsStore

    engine = CdsEngine(data_dir, CdsStore(create_engine(f"sqlite:///{data_dir / 'inprocess.db'}")))
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
    ap.add_argument("--lake-rate", type=float, default=20.0, help="request rate of the no-prefetch scenario")
    ap.add_argument("--data-dir", type=Path, default=None, help="existing data dir with a published model")
    ap.add_argument("--service", default=None, help="service id when --data-dir is given")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes")
    ap.add_argument("--clients", type=int, default=16, help="client threads (keep-alive connections)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="cdss-bench-")
    if args.data_dir is None:
        data_dir = Path(tmp.name) / "data"
        service, people = prepare(data_dir, args.patients)
    else:
        data_dir, service, people = args.data_dir, args.service, []
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
    try:
        for _ in range(200):
            try:
                services = httpx.get(f"{base}/cds-services", timeout=1).json()["services"]
                service = service or services[0]["id"]
                break
            except (httpx.HTTPError, KeyError, IndexError):
                time.sleep(0.1)
        url = f"{base}/cds-services/{service}"

        def body(i: int, with_prefetch: bool) -> dict[str, Any]:
            b: dict[str, Any] = {"hook": "patient-view", "hookInstance": str(uuid.uuid4())}
            if with_prefetch:
                b |= {"context": {"patientId": f"ext-{i}"}, "prefetch": prefetch_body(i)}
            else:
                b |= {"context": {"patientId": str(people[i % len(people)])}}
            return b

        results = []
        scenarios = [("full prefetch", True, args.rate)]
        if people:
            scenarios.append(("no prefetch (lake by person_id)", False, args.lake_rate))
        for name, with_prefetch, rate in scenarios:
            drive(url, [body(i, with_prefetch) for i in range(20)], 10)  # warm-up
            n = int(rate * args.seconds)
            print(f"{name}: {n} requests at {rate:g}/s", file=sys.stderr)
            t0 = time.perf_counter()
            lat, errors = drive(url, [body(i, with_prefetch) for i in range(n)], rate, args.clients)
            results.append(summary(name, lat, errors, time.perf_counter() - t0) | {"target_rps": rate})
        if people:
            results += in_process(data_dir, str(service), people)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        tmp.cleanup()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(
            "| scenario | target req/s | requests | errors | achieved req/s | p50 ms | p95 ms | p99 ms | max ms |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in results:
            print(
                f"| {r['scenario']} | {r['target_rps'] or 'sequential'} | {r['requests']} | {r['errors']} | {r['achieved_rps']} "
                f"| {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} |"
            )


if __name__ == "__main__":
    main()
