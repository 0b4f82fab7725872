from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from medlake.models.metrics import auroc_delong, band_of, calibration, evaluate, psi, risk_bands


def _sample(n: int = 2000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-rng.normal(-1, 1.2, n)))
    y = (rng.random(n) < p).astype(int)
    return y, p


def test_delong_auc_equals_sklearn_and_ci_is_sane() -> None:
    y, p = _sample()
    auc, lo, hi = auroc_delong(y, p)
    assert auc == pytest.approx(roc_auc_score(y, p))
    assert lo < auc < hi and 0.02 < hi - lo < 0.1


def test_delong_with_ties_and_perfect_separation() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.5, 0.5, 0.9, 0.2, 0.7])
    assert auroc_delong(y, p)[0] == pytest.approx(roc_auc_score(y, p))
    auc, lo, hi = auroc_delong(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert (auc, hi) == (1.0, 1.0)


def test_calibration_of_true_risks_is_near_ideal() -> None:
    y, p = _sample(20000)
    slope, intercept = calibration(y, p)
    assert slope == pytest.approx(1.0, abs=0.06)
    assert intercept == pytest.approx(0.0, abs=0.05)
    over = np.clip(p * 1.6, 0, 0.999)  # over-predicting model: negative calibration intercept
    assert calibration(y, over)[1] < -0.3


def test_risk_bands_count_and_observed_risk() -> None:
    y = np.array([0, 0, 1, 0, 1, 1])
    p = np.array([0.05, 0.08, 0.2, 0.25, 0.5, 0.9])
    bands = risk_bands(y, p, 0.1, 0.3)
    assert [(b["band"], b["n"], b["events"]) for b in bands] == [
        ("low", 2, 0),
        ("medium", 2, 1),
        ("high", 2, 2),
    ]
    assert bands[1]["observed_risk"] == 0.5
    assert [band_of(v, 0.1, 0.3) for v in (0.09, 0.1, 0.3)] == ["low", "medium", "high"]


def test_evaluate_has_every_figure() -> None:
    y, p = _sample(500)
    r = evaluate(y, p, low_below=0.2, high_from=0.5)
    for key in (
        "auroc",
        "auroc_ci",
        "auprc",
        "brier",
        "calibration_slope",
        "calibration_intercept",
        "roc",
        "calibration_curve",
        "risk_bands",
    ):
        assert key in r
    assert len(r["roc"]["fpr"]) == len(r["roc"]["tpr"]) > 10
    assert sum(r["calibration_curve"]["n"]) == 500
    assert 0 < r["brier"] < 0.25


def test_psi_detects_shift_only() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 5000)
    assert psi(base, rng.normal(0, 1, 5000)) < 0.02
    assert psi(base, rng.normal(1, 1, 5000)) > 0.25
    assert np.isnan(psi(np.array([np.nan]), base))
