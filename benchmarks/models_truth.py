"""Do models trained from the CLI on the synthetic hospital match the generator's true risk model?

For each task (TAPVC re-operation, burn shock) this trains the task file shipped in
``medlake/models/tasks`` with ``medlake model train`` (one version per algorithm), then compares,
on the same test patients, the AUROC of each model with the AUROC of the generator's true risk
(``truth/outcomes.csv``). Target: |AUROC(model) - AUROC(true risk)| <= 0.03.

    # a lake built from a synthetic hospital (synth → ingest → mpi link → nlp run):
    .venv/bin/python benchmarks/models_truth.py --source /tmp/h10k --data-dir /tmp/lake10k
    # or build it first (slow: several minutes per 10,000 patients on 2 cores):
    .venv/bin/python benchmarks/models_truth.py --build 10000 --source /tmp/h10k --data-dir /tmp/lake10k
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
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
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", type=Path, required=True, help="the synthetic hospital folder (with truth/)")
    ap.add_argument("--data-dir", type=Path, required=True, help="the lake built from it")
    ap.add_argument("--build", type=int, default=0, help="first generate and ingest this many patients")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--algorithms", default="lasso,lightgbm")
    ap.add_argument("--tasks", default="tapvc_reoperation,burn_shock")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.build:
        build(args.build, args.source, args.data_dir, args.seed)
    ids = his_ids(args.data_dir)
    results = []
    for task in args.tasks.split(","):
        algos = [a for name in args.algorithms.split(",") for a in ("-a", name)]
        out = medlake(
            "model",
            "train",
            str(TASKS / f"{task}.json"),
            *algos,
            "--by",
            "benchmark",
            "--json",
            "--data-dir",
            str(args.data_dir),
        )
        for version in json.loads(out[out.index("[") :]):
            results.append(compare(args.data_dir, args.source, task, version, ids))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        "| task | algorithm | test patients (matched) | events | AUROC model | AUROC true risk | difference | within 0.03 |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['task']} | {r['algorithm']} v{r['version']} | {r['test_patients']} ({r['matched_to_truth']}) | {r['events']} "
            f"| {r['auroc_model']:.3f} | {r['auroc_true_risk']:.3f} | {r['difference']:+.3f} | {'yes' if r['within_target'] else 'no'} |"
        )
    for task in args.tasks.split(","):
        mine = [r for r in results if r["task"] == task]
        if mine:
            print(
                f"{task}: {mine[0]['cohort_in_lake']} patients in the lake cohort, {mine[0]['cohort_in_truth']} in truth/outcomes.csv"
            )


if __name__ == "__main__":
    main()
