"""Closing the loop: how a model is used and how it performs after publication; retraining.

``monitor`` reports, for one model version: use (cards issued, patients, risk bands), acceptance
rate and override reasons from clinicians' feedback, discrimination and calibration on patients
whose index date is on or after publication (or ``since``), and input drift as the population
stability index (PSI) of each feature against the training data. ``retrain`` fits the same task
on the current lake as a new draft version for review.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

import duckdb
import numpy as np

from medlake.cdss.store import CdsStore
from medlake.models.extract import extract
from medlake.models.metrics import evaluate, psi
from medlake.models.registry import Registry
from medlake.models.runtime import load_model, read_npz
from medlake.models.spec import TaskSpec
from medlake.models.train import Progress, train

PSI_ALERT = 0.25


def monitor(
    registry: Registry,
    store: CdsStore | None,
    con: duckdb.DuckDBPyConnection | None,
    task: str,
    version: int,
    *,
    since: datetime | None = None,
) -> dict[str, Any]:
    lm = load_model(registry, task, version)
    m = lm.manifest
    start = since or (
        datetime.fromisoformat(m["published_at"]).replace(tzinfo=None) if m.get("published_at") else None
    )
    report: dict[str, Any] = {
        "task": task,
        "version": version,
        "stage": m["stage"],
        "since": str(start or ""),
    }
    cards = store.cards(task, version) if store else []
    feedback = store.feedback(task, version) if store else []
    outcomes = Counter(f["outcome"] for f in feedback)
    answered = outcomes["accepted"] + outcomes["overridden"]
    report["use"] = {
        "cards": len(cards),
        "patients": len({c["person_id"] for c in cards if c["person_id"] is not None}),
        "bands": dict(Counter(c["band"] for c in cards)),
    }
    report["feedback"] = {
        "accepted": outcomes["accepted"],
        "overridden": outcomes["overridden"],
        "acceptance_rate": round(outcomes["accepted"] / answered, 4) if answered else None,
        "override_reasons": dict(
            Counter(
                f["override_display"] or f["override_code"] or "(none)"
                for f in feedback
                if f["outcome"] == "overridden"
            )
        ),
    }
    baseline = read_npz(registry.read_artifact(task, version, "baseline"))["X"]
    current = np.array(
        [[np.nan if v is None else v for v in json.loads(c["features"])] for c in cards], dtype=float
    )
    report["performance"] = None
    if con is not None:
        fm = extract(con, lm.spec)
        rows = np.arange(fm.n) if start is None else np.flatnonzero(fm.index_ts >= np.datetime64(start, "us"))
        if len(rows):
            assert fm.y is not None
            y = fm.y[rows].astype(int)
            p = lm.predict(fm.X[rows])
            bands = {"low_below": lm.spec.bands.low_below, "high_from": lm.spec.bands.high_from}
            if 0 < y.sum() < len(y):
                perf = evaluate(y, p, **bands)
                report["performance"] = {
                    k: perf[k]
                    for k in (
                        "n",
                        "events",
                        "auroc",
                        "auroc_ci",
                        "brier",
                        "calibration_slope",
                        "calibration_intercept",
                    )
                }
            else:
                report["performance"] = {"n": int(len(y)), "events": int(y.sum()), "note": "one class only"}
            if not len(current):
                current = fm.X[rows]
    drift = {}
    if len(current):
        for j, name in enumerate(lm.pre.input_names):
            value = psi(baseline[:, j], current[:, j])
            drift[name] = None if np.isnan(value) else round(value, 4)
    report["drift_psi"] = drift
    report["drift_alerts"] = sorted(k for k, v in drift.items() if v is not None and v > PSI_ALERT)
    return report


def retrain(
    con: duckdb.DuckDBPyConnection,
    registry: Registry,
    task: str,
    *,
    trainer: str,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """A new draft version of ``task`` fitted on the current lake, with the latest version's spec."""
    versions = registry.versions(task)
    published = [
        registry.manifest(task, v) for v in versions if registry.manifest(task, v)["stage"] == "published"
    ]
    base = published[-1] if published else registry.latest(task)
    spec = TaskSpec.model_validate(base["spec"])
    m = train(con, spec, registry, trainer=trainer, progress=progress)
    m["retrained_from"] = base["version"]
    return m
