"""Do models trained from the CLI and the UI on the synthetic hospital match the true risk model?

For each task (TAPVC re-operation, burn shock) this trains the task file shipped in
``medlake/models/tasks`` with ``medlake model train`` (one version per algorithm) and, with
``--via web`` or ``both``, through the web app's task editor over HTTP (``medlake serve`` in its
own process, a researcher logged in through ``POST /api/v1/session``, then the editor's form
``POST /models/new`` with the task JSON and the algorithm, as the page sends it). It then compares,
on the same test patients, the AUROC of each model with the AUROC of the generator's true risk
(``truth/outcomes.csv``). Target: |AUROC(model) - AUROC(true risk)| <= 0.03.

    # a lake built from a synthetic hospital (synth → ingest → mpi link → nlp run):
    .venv/bin/python benchmarks/models_truth.py --source /tmp/h10k --data-dir /tmp/lake10k --via both
    # or build it first (slow: several minutes per 10,000 patients on 2 cores):
    .venv/bin/python benchmarks/models_truth.py --build 10000 --source /tmp/h10k --data-dir /tmp/lake10k
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

REPO = Path(__file__).resolve().parents[1]
TASKS = REPO / "src" / "medlake" / "models" / "tasks"
TARGET = 0.03


def medlake(*args: str) -> str:
    cmd = [sys.executable, "-m", "medlake.cli", *args]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def build(n: int, source: Path, data_dir: Path, seed: int) -> None:
    medlake("synth", "--patients", str(n), "--seed", str(seed), "--out", str(source))
    medlake("ingest", str(source), "--data-dir", str(data_dir), "-q")
    medlake("mpi", "link", "--data-dir", str(data_dir))
    medlake("nlp", "run", "--data-dir", str(data_dir))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def web_session(data_dir: Path) -> Iterator[tuple[Any, str]]:
    """``medlake serve`` on a free port, and an httpx client logged in as the demo researcher."""
    import httpx

    from medlake.settings import Settings
    from medlake.web.services.demo import create_demo_accounts

    password = "benchmark-password-1"
    create_demo_accounts(Settings(data_dir=data_dir), password=password)
    port = _free_port()
    env = os.environ | {"MEDLAKE_DATA_DIR": str(data_dir)}
    cmd = [sys.executable, "-m", "medlake.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=1800) as client:
            for _ in range(300):
                try:
                    client.get("/login")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            r = client.post("/api/v1/session", json={"username": "researcher", "password": password})
            r.raise_for_status()
            yield client, str(r.json()["csrf_token"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def train_via_web(client: Any, csrf: str, data_dir: Path, task_json: str, algorithm: str) -> dict[str, Any]:
    """The task editor's form, as the page posts it; the new version's manifest from the registry."""
    r = client.post(
        "/models/new",
        data={"csrf_token": csrf, "task_json": task_json, "algorithm": algorithm},
        follow_redirects=False,
    )
    if r.status_code != 303:
        raise SystemExit(f"the task editor answered {r.status_code}: {r.text[:500]}")
    task, _, version = r.headers["location"].removeprefix("/models/").partition("/v")
    page = client.get(r.headers["location"])
    page.raise_for_status()  # the result page renders
    from medlake.models.registry import Registry

    manifest: dict[str, Any] = Registry(data_dir).manifest(task, int(version))
    return manifest


def his_ids(data_dir: Path) -> dict[int, str]:
    from medlake.cdm.lake import Lake

    con = Lake(data_dir).connect()
    rows = con.execute(
        "SELECT person_id, src_person_id FROM person_link WHERE src_system = 'HIS' "
        "UNION ALL SELECT person_id, person_source_value FROM person WHERE person_source_value LIKE 'H%'"
    ).fetchall()
    return {int(p): str(h) for p, h in rows}


def truth(source: Path, task: str) -> dict[str, float]:
    with open(source / "truth" / "outcomes.csv", encoding="utf-8") as fh:
        return {r["his_patient_id"]: float(r["true_risk"]) for r in csv.DictReader(fh) if r["task"] == task}


def compare(
    data_dir: Path, source: Path, task: str, version: dict[str, Any], ids: dict[int, str]
) -> dict[str, Any]:
    from medlake.models.registry import Registry

    reg = Registry(data_dir)
    text = reg.read_artifact(task, version["version"], "test_predictions").decode()
    rows = list(csv.DictReader(text.splitlines()))
    risks = truth(source, task)
    matched = [r for r in rows if ids.get(int(r["person_id"])) in risks]
    y = np.array([int(r["outcome"]) for r in matched])
    model = roc_auc_score(y, [float(r["predicted"]) for r in matched])
    true = roc_auc_score(y, [risks[ids[int(r["person_id"])]] for r in matched])
    return {
        "task": task,
        "version": version["version"],
        "algorithm": version["algorithm"],
        "test_patients": len(rows),
        "matched_to_truth": len(matched),
        "events": int(y.sum()),
        "auroc_model": round(float(model), 4),
        "auroc_true_risk": round(float(true), 4),
        "difference": round(float(model - true), 4),
        "within_target": bool(abs(model - true) <= TARGET),
        "cohort_in_lake": version["sizes"]["total"],
        "cohort_in_truth": len(risks),
        "params": version.get("params"),
    }


def train_cli(task_file: Path, algorithms: list[str], data_dir: Path) -> list[Any]:
    """``medlake model train`` on a task file: the versions it trained (its JSON output)."""
    algos = [a for name in algorithms for a in ("-a", name)]
    out = medlake(
        "model", "train", str(task_file), *algos, "--by", "benchmark", "--json", "--data-dir", str(data_dir)
    )
    return list(json.loads(out[out.index("[") :]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", type=Path, required=True, help="the synthetic hospital folder (with truth/)")
    ap.add_argument("--data-dir", type=Path, required=True, help="the lake built from it")
    ap.add_argument("--build", type=int, default=0, help="first generate and ingest this many patients")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--algorithms", default="lasso,lightgbm")
    ap.add_argument("--tasks", default="tapvc_reoperation,burn_shock")
    ap.add_argument(
        "--via", choices=["cli", "web", "both"], default="cli", help="train from the CLI, the web UI, or both"
    )
    ap.add_argument(
        "--split-seeds",
        default="",
        help="comma-separated extra split seeds: train each task again on other train/test splits (CLI)",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.build:
        build(args.build, args.source, args.data_dir, args.seed)
    ids = his_ids(args.data_dir)
    results = []
    tasks, algorithms = args.tasks.split(","), args.algorithms.split(",")
    if args.via in ("cli", "both"):
        for task in tasks:
            for version in train_cli(TASKS / f"{task}.json", algorithms, args.data_dir):
                results.append(compare(args.data_dir, args.source, task, version, ids) | {"via": "CLI"})
    for split_seed in [int(x) for x in args.split_seeds.split(",") if x]:
        # the same task with another split seed: other train / test patients (CLI)
        with tempfile.TemporaryDirectory() as tmp:
            for task in tasks:
                spec = json.loads((TASKS / f"{task}.json").read_text(encoding="utf-8")) | {"seed": split_seed}
                path = Path(tmp) / f"{task}.json"
                path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
                for version in train_cli(path, algorithms, args.data_dir):
                    row = compare(args.data_dir, args.source, task, version, ids)
                    results.append(row | {"via": f"CLI, split seed {split_seed}"})
    if args.via in ("web", "both"):
        with web_session(args.data_dir) as (client, csrf):
            for task in tasks:
                text = (TASKS / f"{task}.json").read_text(encoding="utf-8")
                for name in algorithms:
                    version = train_via_web(client, csrf, args.data_dir, text, name)
                    results.append(
                        compare(args.data_dir, args.source, task, version, ids) | {"via": "web UI"}
                    )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        "| task | trained from | algorithm | test patients (matched) | events | AUROC model | AUROC true risk | difference | within 0.03 |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['task']} | {r['via']} | {r['algorithm']} v{r['version']} | {r['test_patients']} ({r['matched_to_truth']}) | {r['events']} "
            f"| {r['auroc_model']:.3f} | {r['auroc_true_risk']:.3f} | {r['difference']:+.3f} | {'yes' if r['within_target'] else 'no'} |"
        )
    for task in tasks:
        for name in algorithms:
            diffs = [
                r["difference"]
                for r in results
                if r["task"] == task and r["algorithm"] == name and r["via"].startswith("CLI")
            ]
            if len(diffs) > 2:
                print(
                    f"{task} {name}: difference over {len(diffs)} trainings mean {np.mean(diffs):+.3f}, "
                    f"sd {np.std(diffs, ddof=1):.3f}, within 0.03 in {sum(abs(d) <= TARGET for d in diffs)}"
                )
    for task in args.tasks.split(","):
        mine = [r for r in results if r["task"] == task]
        if mine:
            print(
                f"{task}: {mine[0]['cohort_in_lake']} patients in the lake cohort, {mine[0]['cohort_in_truth']} in truth/outcomes.csv"
            )


if __name__ == "__main__":
    main()
