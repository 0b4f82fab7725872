"""A registered model loaded for use: predict risks and explain them from raw feature values.

``load_model(registry, task, version)`` reads the manifest, checks every artifact's sha256,
restores the preprocessing from JSON and the estimator without pickle (refitting RF/SVM from
their stored training matrix and checking the stored probe predictions).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from medlake.errors import ValidationFailed
from medlake.models.algorithms import Algorithm, algorithm_class
from medlake.models.metrics import band_of
from medlake.models.preprocess import Preprocessor
from medlake.models.registry import Registry
from medlake.models.spec import TaskSpec


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    save: Any = np.savez_compressed
    save(buf, **arrays)
    return buf.getvalue()


def read_npz(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@dataclass
class LoadedModel:
    manifest: dict[str, Any]
    spec: TaskSpec
    pre: Preprocessor
    algo: Algorithm
    reference: np.ndarray

    @property
    def key(self) -> str:
        return f"{self.manifest['task']}-v{self.manifest['version']}"

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.algo.predict(self.pre.transform(np.atleast_2d(X)))

    def band(self, p: float) -> str:
        return band_of(p, self.spec.bands.low_below, self.spec.bands.high_from)

    def explain(self, x: np.ndarray, top: int = 3) -> list[dict[str, Any]]:
        """The features pushing this patient's risk most, on the logit (log-odds) scale."""
        return self.score(x, top)[1]

    def score(self, x: np.ndarray, top: int = 3) -> tuple[float, list[dict[str, Any]]]:
        """One patient's risk and the ``top`` features pushing it most (logit scale)."""
        Z = self.pre.transform(np.atleast_2d(x))
        p, contrib = self.algo.predict_explain(Z, self.reference)
        by_feature: dict[str, float] = {}
        for name, c in zip(self.pre.output_names, contrib[0], strict=True):
            base = name.removesuffix("__missing")
            by_feature[base] = by_feature.get(base, 0.0) + float(c)
        raw = np.atleast_2d(x)[0].astype(float)
        for j, f in enumerate(self.spec.features):  # show values as recorded, not as transformed
            if getattr(f, "transform", "none") == "log1p":
                raw[j] = np.expm1(raw[j])
        values = dict(zip(self.pre.input_names, raw, strict=True))
        ranked = sorted(by_feature.items(), key=lambda kv: -abs(kv[1]))[:top]
        factors = [
            {
                "feature": name,
                "contribution": round(c, 4),
                "value": None if np.isnan(values[name]) else round(float(values[name]), 4),
            }
            for name, c in ranked
            if abs(c) > 1e-9
        ]
        return float(p[0]), factors


def load_model(registry: Registry, task: str, version: int) -> LoadedModel:
    m = registry.manifest(task, version)
    spec = TaskSpec.model_validate(m["spec"])
    pre = Preprocessor.from_json(m["preprocessing"])
    cls = algorithm_class(m["algorithm"])
    training = None
    if cls.refit_on_load:
        arrays = read_npz(registry.read_artifact(task, version, "training"))
        training = (arrays["Z"], arrays["y"])
    algo = cls.load(registry.read_artifact(task, version, "model"), training)
    probe = m.get("probe")
    if probe:
        got = algo.predict(np.asarray(probe["Z"], dtype=float))
        if not np.allclose(got, np.asarray(probe["p"]), atol=1e-6):
            raise ValidationFailed(
                f"model {task} v{version} does not reproduce its stored predictions",
                hint="The library version changed since training; retrain the model.",
            )
    return LoadedModel(m, spec, pre, algo, np.asarray(m["reference"], dtype=float))
