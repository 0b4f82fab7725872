"""LightGBM's grid search for small data: early-stopped rounds and the one-standard-error rule."""

from __future__ import annotations

import numpy as np

from medlake.models.algorithms import LightGBM, search


def _additive(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A logistic, additive truth (like the synthetic hospital's risk models), three features."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 3))
    p = 1 / (1 + np.exp(-(-1.0 + 1.2 * Z[:, 0] - 0.8 * Z[:, 1])))
    return Z, (rng.random(n) < p).astype(int)


def test_rounds_are_found_by_early_stopping_and_the_simplest_close_point_is_kept() -> None:
    Z, y = _additive(400, 1)
    best, results = search(LightGBM, Z, y, {}, folds=5, seed=3)
    assert len(results) == 3  # 2, 4 and 8 leaves
    for r in results:
        rounds = r["early_stopped_rounds"]
        assert rounds is not None and 1 <= rounds < LightGBM.max_rounds
        assert r["params"]["num_boost_round"] == rounds and 0.5 < r["cv_auroc"] <= 1.0 and r["cv_se"] > 0
    top = max(results, key=lambda r: r["cv_auroc"])
    close = [r for r in results if r["cv_auroc"] >= top["cv_auroc"] - top["cv_se"]]
    assert best["num_leaves"] == min(r["params"]["num_leaves"] for r in close)
    assert best["extra_trees"] is True and best in [r["params"] for r in results]
    again, _ = search(LightGBM, Z, y, {}, folds=5, seed=3)
    assert again == best  # fixed seeds: the same choice


def test_the_chosen_point_beats_chance_on_new_patients() -> None:
    from sklearn.metrics import roc_auc_score

    Z, y = _additive(400, 2)
    best, _ = search(LightGBM, Z, y, {}, folds=5, seed=3)
    model = LightGBM(best, 3)
    model.fit(Z, y)
    Zt, yt = _additive(2000, 9)
    truth = roc_auc_score(yt, 1.2 * Zt[:, 0] - 0.8 * Zt[:, 1])
    assert roc_auc_score(yt, model.predict(Zt)) > truth - 0.05


def test_a_grid_that_fixes_the_rounds_keeps_them() -> None:
    Z, y = _additive(200, 4)
    best, results = search(LightGBM, Z, y, {"num_leaves": [4], "num_boost_round": [30]}, folds=5, seed=3)
    assert best == {"num_leaves": 4, "num_boost_round": 30} and results[0]["cv_auroc"] is None
    best, results = search(LightGBM, Z, y, {"num_leaves": [2, 4], "num_boost_round": [30]}, folds=5, seed=3)
    assert best["num_boost_round"] == 30 and all(r["early_stopped_rounds"] is None for r in results)
