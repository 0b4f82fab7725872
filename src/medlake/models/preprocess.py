"""Missing values and scaling, fitted on training rows and stored as plain JSON.

Features missing in more than ``max_missing_rate`` of the training rows are dropped; the rest are
imputed with the training median, and every kept feature that had missing values gets a 0/1
missing indicator. Linear models and SVMs then see standardised columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Preprocessor:
    input_names: list[str]
    kept: list[str]
    dropped: dict[str, float]
    medians: list[float]
    indicators: list[str]
    means: list[float]
    scales: list[float]
    standardise: bool

    @classmethod
    def fit(
        cls, X: np.ndarray, names: list[str], *, max_missing_rate: float, standardise: bool
    ) -> Preprocessor:
        rates = np.isnan(X).mean(axis=0) if len(X) else np.zeros(len(names))
        kept_idx = [j for j, r in enumerate(rates) if r <= max_missing_rate and not np.all(np.isnan(X[:, j]))]
        dropped = {names[j]: round(float(rates[j]), 4) for j in range(len(names)) if j not in kept_idx}
        medians = [float(np.nanmedian(X[:, j])) for j in kept_idx]
        indicators = [names[j] for j in kept_idx if rates[j] > 0]
        pre = cls(
            input_names=list(names),
            kept=[names[j] for j in kept_idx],
            dropped=dropped,
            medians=medians,
            indicators=indicators,
            means=[],
            scales=[],
            standardise=standardise,
        )
        Z = pre._impute(X)
        if standardise:
            pre.means = [float(v) for v in Z.mean(axis=0)]
            sd = Z.std(axis=0)
            pre.scales = [float(v) if v > 1e-12 else 1.0 for v in sd]
        return pre

    @property
    def output_names(self) -> list[str]:
        return self.kept + [f"{n}__missing" for n in self.indicators]

    def _impute(self, X: np.ndarray) -> np.ndarray:
        col = {n: j for j, n in enumerate(self.input_names)}
        kept = X[:, [col[n] for n in self.kept]]
        filled = np.where(np.isnan(kept), np.asarray(self.medians), kept)
        flags = np.isnan(X[:, [col[n] for n in self.indicators]]).astype(float)
        return np.hstack([filled, flags])

    def transform(self, X: np.ndarray) -> np.ndarray:
        Z = self._impute(np.atleast_2d(X))
        if self.standardise:
            Z = (Z - np.asarray(self.means)) / np.asarray(self.scales)
        return Z

    def to_json(self) -> dict[str, Any]:
        return {
            "input_names": self.input_names,
            "kept": self.kept,
            "dropped": self.dropped,
            "medians": self.medians,
            "indicators": self.indicators,
            "means": self.means,
            "scales": self.scales,
            "standardise": self.standardise,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Preprocessor:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})
