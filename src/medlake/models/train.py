"""Training a task: extract, split, search, fit, evaluate, and register a draft version.

The split is stratified (fixed seed) or by time (latest index dates are the test set). The
hyper-parameter grid is searched by stratified k-fold on the training rows; the chosen model is
fitted on all training rows and evaluated on the validation and test rows. The registered
version carries the data snapshot hash, the seed and the spec, so the run can be repeated.
"""

from __future__ import annotations

import csv
import io
import json
import platform
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np

from medlake.errors import ValidationFailed
from medlake.models.algorithms import algorithm_class, search
from medlake.models.card import model_card
from medlake.models.extract import FeatureMatrix, extract
from medlake.models.metrics import evaluate
from medlake.models.preprocess import Preprocessor
from medlake.models.registry import Registry
from medlake.models.runtime import npz_bytes
from medlake.models.spec import TaskSpec

Progress = Callable[[str], None]


def split_rows(fm: FeatureMatrix, spec: TaskSpec) -> dict[str, np.ndarray]:
    """Row indices of the train / validation / test sets."""
    from sklearn.model_selection import train_test_split

    assert fm.y is not None
    rows = np.arange(fm.n)
    s = spec.split
    if s.method == "time":
        order = np.lexsort((fm.person_ids, fm.index_ts))
        n_test = max(1, int(round(fm.n * s.test_fraction)))
        n_val = int(round(fm.n * s.validation_fraction))
        return {
            "train": np.sort(order[: fm.n - n_test - n_val]),
            "validation": np.sort(order[fm.n - n_test - n_val : fm.n - n_test]),
            "test": np.sort(order[fm.n - n_test :]),
        }
    strat = fm.y if 0 < fm.y.sum() < fm.n and min(np.bincount(fm.y)) >= 2 else None
    rest, test = train_test_split(rows, test_size=s.test_fraction, random_state=spec.seed, stratify=strat)
    val = np.array([], dtype=int)
    if s.validation_fraction > 0:
        frac = s.validation_fraction / (1 - s.test_fraction)
        strat_rest = fm.y[rest] if strat is not None else None
        rest, val = train_test_split(rest, test_size=frac, random_state=spec.seed + 1, stratify=strat_rest)
    return {"train": np.sort(rest), "validation": np.sort(val), "test": np.sort(test)}


def _predictions_csv(fm: FeatureMatrix, rows: np.ndarray, p: np.ndarray) -> bytes:
    assert fm.y is not None
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["person_id", "index_ts", "predicted", "outcome"])
    for r, pr in zip(rows, p, strict=True):
        w.writerow([int(fm.person_ids[r]), str(fm.index_ts[r]), f"{pr:.6f}", int(fm.y[r])])
    return buf.getvalue().encode()


def train(
    con: duckdb.DuckDBPyConnection,
    spec: TaskSpec,
    registry: Registry,
    *,
    trainer: str,
    progress: Progress | None = None,
    fm: FeatureMatrix | None = None,
) -> dict[str, Any]:
    """Train ``spec`` on the lake behind ``con`` and register the result as a draft version."""
    say = progress or (lambda _msg: None)
    if fm is None:
        say(f"extracting {len(spec.features)} features")
        fm = extract(con, spec)
    assert fm.y is not None
    if fm.y.sum() < 2 or fm.y.sum() > fm.n - 2:
        raise ValidationFailed(
            f"task {spec.name}: {int(fm.y.sum())} events among {fm.n} patients; both classes need at least 2"
        )
    snapshot = fm.snapshot_hash()
    sets = split_rows(fm, spec)
    tr = sets["train"]
    cls = algorithm_class(spec.algorithm.name)
    pre = Preprocessor.fit(
        fm.X[tr], fm.names, max_missing_rate=spec.max_missing_rate, standardise=cls.standardise
    )
    if not pre.kept:
        raise ValidationFailed("every feature was dropped for missing values", hint="Raise max_missing_rate.")
    Z = pre.transform(fm.X)
    y = fm.y.astype(int)
    say(f"searching {spec.algorithm.name} hyper-parameters ({spec.split.folds}-fold)")
    best, cv = search(cls, Z[tr], y[tr], dict(spec.algorithm.grid), spec.split.folds, spec.seed)
    say(f"fitting {spec.algorithm.name} {best}")
    algo = cls(best, spec.seed)
    algo.fit(Z[tr], y[tr])
    bands = {"low_below": spec.bands.low_below, "high_from": spec.bands.high_from}
    results: dict[str, Any] = {}
    preds: dict[str, np.ndarray] = {}
    for name, rows in sets.items():
        if len(rows):
            preds[name] = algo.predict(Z[rows])
            results[name] = evaluate(y[rows], preds[name], **bands)
    reference = Z[tr].mean(axis=0)
    weights = algo.weights(pre.output_names)
    test = sets["test"]
    shap = np.abs(algo.contributions(Z[test], reference)).mean(axis=0)
    importance = {n: round(float(v), 6) for n, v in zip(pre.output_names, shap, strict=True)}
    probe_rows = tr[:5]
    manifest: dict[str, Any] = {
        "task": spec.name,
        "title": spec.title or spec.name,
        "algorithm": spec.algorithm.name,
        "params": best,
        "cv": cv,
        "seed": spec.seed,
        "trainer": trainer,
        "snapshot_hash": snapshot,
        "spec": spec.model_dump(mode="json"),
        "preprocessing": pre.to_json(),
        "reference": [float(v) for v in reference],
        "probe": {"Z": Z[probe_rows].tolist(), "p": algo.predict(Z[probe_rows]).tolist()},
        "sizes": {k: int(len(v)) for k, v in sets.items()} | {"events": int(y.sum()), "total": fm.n},
        "metrics": results,
        "weights": weights,
        "mean_abs_contribution": importance,
        "environment": _environment(),
    }
    artifacts = {"model": ("model.txt" if spec.algorithm.name == "lightgbm" else "model.json", algo.dump())}
    if cls.refit_on_load:
        artifacts["training"] = ("training.npz", npz_bytes(Z=Z[tr], y=y[tr]))
    artifacts["baseline"] = ("baseline.npz", npz_bytes(X=fm.X[tr]))
    artifacts["test_predictions"] = ("test_predictions.csv", _predictions_csv(fm, test, preds["test"]))
    m = registry.register(manifest, artifacts)
    md, card_json = model_card(m)
    registry.add_artifact(m["task"], m["version"], "card_md", "card.md", md.encode())
    registry.add_artifact(
        m["task"],
        m["version"],
        "card_json",
        "card.json",
        json.dumps(card_json, ensure_ascii=False, indent=2).encode(),
    )
    say(f"registered {m['task']} v{m['version']} (draft), test AUROC {results['test']['auroc']:.3f}")
    return registry.manifest(m["task"], m["version"])


def _environment() -> dict[str, str]:
    import lightgbm
    import sklearn

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "lightgbm": lightgbm.__version__,
        "duckdb": duckdb.__version__,
    }
