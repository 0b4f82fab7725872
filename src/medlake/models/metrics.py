"""Performance of a risk model: discrimination, calibration, curves and risk bands.

AUROC with a DeLong 95% confidence interval, AUPRC (average precision), Brier score, calibration
slope and intercept (logistic recalibration, intercept with the slope fixed at 1), ROC and
calibration curves as plotly figure JSON, and the observed risk in user-set risk bands.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Z_975 = 1.959963984540054  # standard normal 97.5 % quantile


def _midrank(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    n = len(x)
    ranks = np.zeros(n)
    i = 0
    while i < n:
        j = i
        while j < n and xs[j] == xs[i]:
            j += 1
        ranks[i:j] = 0.5 * (i + j - 1) + 1
        i = j
    out = np.empty(n)
    out[order] = ranks
    return out


def auroc_delong(y: np.ndarray, p: np.ndarray) -> tuple[float, float, float]:
    """AUROC and its DeLong 95% CI (fast midrank algorithm of Sun & Xu 2014)."""
    y = np.asarray(y).astype(int)
    pos, neg = p[y == 1], p[y == 0]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        return float("nan"), float("nan"), float("nan")
    tx, ty, tz = _midrank(pos), _midrank(neg), _midrank(np.concatenate([pos, neg]))
    auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    v01 = (tz[:m] - tx) / n
    v10 = 1.0 - (tz[m:] - ty) / m
    var = (np.var(v01, ddof=1) if m > 1 else 0.0) / m + (np.var(v10, ddof=1) if n > 1 else 0.0) / n
    se = float(np.sqrt(max(var, 0.0)))
    z = Z_975
    return float(auc), float(max(0.0, auc - z * se)), float(min(1.0, auc + z * se))


def average_precision(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, p)) if y.sum() > 0 else float("nan")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _newton(X: np.ndarray, y: np.ndarray, offset: np.ndarray, iters: int = 50) -> np.ndarray:
    beta = np.zeros(X.shape[1])
    for _ in range(iters):
        mu = 1 / (1 + np.exp(-(X @ beta + offset)))
        w = mu * (1 - mu)
        grad = X.T @ (y - mu)
        hess = X.T @ (X * w[:, None]) + 1e-9 * np.eye(X.shape[1])
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def calibration(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(slope, intercept): slope from y ~ a + b·logit(p); intercept from y ~ a + offset(logit(p))."""
    lp = _logit(p)
    yf = y.astype(float)
    slope = float(_newton(np.column_stack([np.ones_like(lp), lp]), yf, np.zeros_like(lp))[1])
    intercept = float(_newton(np.ones((len(lp), 1)), yf, lp)[0])
    return slope, intercept


def roc_points(y: np.ndarray, p: np.ndarray, max_points: int = 200) -> dict[str, list[float]]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    if len(fpr) > max_points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [round(float(v), 4) for v in fpr], "tpr": [round(float(v), 4) for v in tpr]}


def calibration_points(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """Mean predicted vs observed risk in quantile bins."""
    order = np.argsort(p, kind="mergesort")
    groups = [g for g in np.array_split(order, min(bins, len(p))) if len(g)]
    return {
        "predicted": [round(float(p[g].mean()), 4) for g in groups],
        "observed": [round(float(y[g].mean()), 4) for g in groups],
        "n": [len(g) for g in groups],
    }


def risk_bands(y: np.ndarray, p: np.ndarray, low_below: float, high_from: float) -> list[dict[str, Any]]:
    out = []
    for band, mask in (
        ("low", p < low_below),
        ("medium", (p >= low_below) & (p < high_from)),
        ("high", p >= high_from),
    ):
        n = int(mask.sum())
        out.append(
            {
                "band": band,
                "n": n,
                "events": int(y[mask].sum()),
                "observed_risk": round(float(y[mask].mean()), 4) if n else None,
                "mean_predicted": round(float(p[mask].mean()), 4) if n else None,
            }
        )
    return out


def band_of(p: float, low_below: float, high_from: float) -> str:
    return "low" if p < low_below else ("high" if p >= high_from else "medium")


def evaluate(y: np.ndarray, p: np.ndarray, *, low_below: float, high_from: float) -> dict[str, Any]:
    """Every figure of one model on one set of rows (plots as plain data)."""
    y = np.asarray(y).astype(int)
    auc, lo, hi = auroc_delong(y, p)
    slope, intercept = calibration(y, p) if 0 < y.sum() < len(y) else (float("nan"), float("nan"))
    return {
        "n": len(y),
        "events": int(y.sum()),
        "auroc": auc,
        "auroc_ci": [lo, hi],
        "auprc": average_precision(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "calibration_slope": slope,
        "calibration_intercept": intercept,
        "roc": roc_points(y, p) if 0 < y.sum() < len(y) else {"fpr": [], "tpr": []},
        "calibration_curve": calibration_points(y, p),
        "risk_bands": risk_bands(y, p, low_below, high_from),
    }


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` (quantile bins of expected)."""
    expected = expected[~np.isnan(expected)]
    actual = actual[~np.isnan(actual)]
    if len(expected) == 0 or len(actual) == 0:
        return float("nan")
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        e = np.array([1.0])
        a = np.array([np.mean(actual == expected[0])])
        a = np.array([a[0], 1 - a[0]])
        e = np.array([1.0, 0.0])
    else:
        edges[0], edges[-1] = -np.inf, np.inf
        e = np.histogram(expected, edges)[0] / len(expected)
        a = np.histogram(actual, edges)[0] / len(actual)
    e = np.clip(e, 1e-4, None)
    a = np.clip(a, 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))
