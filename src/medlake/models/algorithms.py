"""Model algorithms: a small base class plus a name → class registry, saved without pickle.

* ``lasso`` / ``ridge``: L1 / L2 logistic regression, saved as JSON coefficients.
* ``lightgbm``: gradient boosting, saved as LightGBM's native text model; SHAP values come from
  ``pred_contrib=True``.
* ``random_forest`` / ``svm`` (RBF SVM with sigmoid-calibrated probabilities): saved as their
  hyper-parameters and seed; the registry keeps the training matrix (``.npz`` read with
  ``allow_pickle=False``) and ``load`` refits deterministically, then checks stored probe
  predictions so a silently different refit cannot go unnoticed.
"""

from __future__ import annotations

import itertools
import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from medlake.errors import ValidationFailed


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class Algorithm(ABC):
    name: ClassVar[str]
    standardise: ClassVar[bool] = True
    refit_on_load: ClassVar[bool] = False
    default_grid: ClassVar[dict[str, list[Any]]] = {}

    def __init__(self, params: dict[str, Any], seed: int) -> None:
        self.params = dict(params)
        self.seed = seed

    @abstractmethod
    def fit(self, Z: np.ndarray, y: np.ndarray) -> None: ...

    @abstractmethod
    def predict(self, Z: np.ndarray) -> np.ndarray:
        """Predicted probability of the outcome for each row."""

    @abstractmethod
    def dump(self) -> bytes:
        """The fitted model as bytes (JSON or LightGBM text)."""

    @classmethod
    @abstractmethod
    def load(cls, data: bytes, training: tuple[np.ndarray, np.ndarray] | None) -> Algorithm: ...

    def weights(self, names: list[str]) -> dict[str, float]:
        """Coefficients (linear) or importances (trees), by feature."""
        return {}

    def predict_explain(self, Z: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Risks and per-feature contributions together (one pass where the model allows it)."""
        return self.predict(Z), self.contributions(Z, reference)

    def contributions(self, Z: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Per-feature contributions to the logit of each row (default: swap in the reference value)."""
        base = _logit(self.predict(Z))
        out = np.zeros_like(Z, dtype=float)
        for j in range(Z.shape[1]):
            Zj = Z.copy()
            Zj[:, j] = reference[j]
            out[:, j] = base - _logit(self.predict(Zj))
        return out


# -- linear ------------------------------------------------------------------------------------------
class _Logistic(Algorithm):
    penalty: ClassVar[str]
    default_grid: ClassVar[dict[str, list[Any]]] = {"C": [0.01, 0.1, 1.0, 10.0]}

    def __init__(self, params: dict[str, Any], seed: int) -> None:
        super().__init__(params, seed)
        self.coef = np.zeros(0)
        self.intercept = 0.0

    def fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        solver = "liblinear" if self.penalty == "l1" else "lbfgs"
        model = LogisticRegression(
            l1_ratio=1.0 if self.penalty == "l1" else 0.0,
            C=float(self.params.get("C", 1.0)),
            solver=solver,
            max_iter=2000,
            random_state=self.seed,
        )
        model.fit(Z, y)
        self.coef = model.coef_[0].astype(float)
        self.intercept = float(model.intercept_[0])

    def predict(self, Z: np.ndarray) -> np.ndarray:
        return _sigmoid(Z @ self.coef + self.intercept)

    def dump(self) -> bytes:
        body = {"algorithm": self.name, "params": self.params, "seed": self.seed}
        body |= {"intercept": self.intercept, "coef": [float(c) for c in self.coef]}
        return json.dumps(body, sort_keys=True).encode()

    @classmethod
    def load(cls, data: bytes, training: tuple[np.ndarray, np.ndarray] | None) -> Algorithm:
        body = json.loads(data)
        algo = cls(body["params"], body["seed"])
        algo.coef = np.asarray(body["coef"], dtype=float)
        algo.intercept = float(body["intercept"])
        return algo

    def weights(self, names: list[str]) -> dict[str, float]:
        return {n: float(c) for n, c in zip(names, self.coef, strict=True)}

    def contributions(self, Z: np.ndarray, reference: np.ndarray) -> np.ndarray:
        return (Z - reference) * self.coef


class Lasso(_Logistic):
    name = "lasso"
    penalty = "l1"


class Ridge(_Logistic):
    name = "ridge"
    penalty = "l2"


# -- gradient boosting --------------------------------------------------------------------------------
class LightGBM(Algorithm):
    """Gradient boosting, with defaults meant for the few hundred rows of a clinical task.

    The default grid is shallow trees (2, 4 or 8 leaves; 2 = an additive model of single splits)
    with randomised split points (``extra_trees``, smoother step functions), at least 20 rows a
    leaf. Unless the grid fixes ``num_boost_round``, the number of rounds is found by early stopping
    on the cross-validation folds (log-loss, patience 50, at most 2000). Of the grid points, the
    simplest (fewest leaves, then fewest rounds) whose mean CV AUROC is within one standard error
    of the best is kept (the one-standard-error rule): on small data the best CV score is mostly noise.
    """

    name = "lightgbm"
    standardise = False
    default_grid: ClassVar[dict[str, list[Any]]] = {
        "num_leaves": [2, 4, 8],
        "learning_rate": [0.05],
        "min_data_in_leaf": [20],
        "extra_trees": [True],
    }
    max_rounds: ClassVar[int] = 2000
    patience: ClassVar[int] = 50

    def __init__(self, params: dict[str, Any], seed: int) -> None:
        super().__init__(params, seed)
        self.booster: Any = None

    def _lgb_params(self) -> dict[str, Any]:
        p = {k: v for k, v in self.params.items() if k != "num_boost_round"}
        return {
            "objective": "binary",
            "verbosity": -1,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 1,
            "feature_fraction": 0.9,
            "bagging_fraction": 0.9,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            **p,
        }

    def fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        import lightgbm as lgb

        data = lgb.Dataset(Z, label=y, params={"verbosity": -1})
        self.booster = lgb.train(
            self._lgb_params(), data, num_boost_round=int(self.params.get("num_boost_round", 200))
        )

    def predict(self, Z: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(Z, num_threads=1), dtype=float)

    @classmethod
    def search(
        cls, Z: np.ndarray, y: np.ndarray, grid: dict[str, list[Any]], folds: int, seed: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Grid search with early-stopped rounds per point and the one-standard-error rule (class doc)."""
        import lightgbm as lgb

        points = grid_points(grid or cls.default_grid)
        if len(points) == 1 and "num_boost_round" in points[0]:
            return points[0], [{"params": points[0], "cv_auroc": None}]
        splits = list(_folds(y, folds, seed).split(Z, y))
        results: list[dict[str, Any]] = []
        for point in points:
            if "num_boost_round" in point:
                scores = _fold_aurocs(cls, point, Z, y, splits, seed)
                mean, se, rounds = float(np.mean(scores)), float(np.std(scores) / np.sqrt(len(scores))), None
            else:
                params = cls(point, seed)._lgb_params() | {
                    "metric": ["binary_logloss", "auc"],
                    "first_metric_only": True,
                }
                hist: dict[str, list[float]] = lgb.cv(  # type: ignore[assignment]
                    params,
                    lgb.Dataset(Z, label=y, params={"verbosity": -1}),
                    num_boost_round=cls.max_rounds,
                    folds=splits,
                    callbacks=[lgb.early_stopping(cls.patience, first_metric_only=True, verbose=False)],
                )
                rounds = len(hist["valid auc-mean"])
                mean = float(hist["valid auc-mean"][-1])
                se = float(hist["valid auc-stdv"][-1] / np.sqrt(len(splits)))
                point = point | {"num_boost_round": rounds}
            results.append({"params": point, "cv_auroc": mean, "cv_se": se, "early_stopped_rounds": rounds})
        best = max(results, key=lambda r: r["cv_auroc"])
        close = [r for r in results if r["cv_auroc"] >= best["cv_auroc"] - best["cv_se"]]
        simplest = min(
            close, key=lambda r: (r["params"].get("num_leaves", 31), r["params"]["num_boost_round"])
        )
        return dict(simplest["params"]), results

    def dump(self) -> bytes:
        return str(self.booster.model_to_string()).encode()

    @classmethod
    def load(cls, data: bytes, training: tuple[np.ndarray, np.ndarray] | None) -> Algorithm:
        import lightgbm as lgb

        algo = cls({}, 0)
        algo.booster = lgb.Booster(model_str=data.decode())
        return algo

    def weights(self, names: list[str]) -> dict[str, float]:
        gain = self.booster.feature_importance(importance_type="gain")
        total = float(gain.sum()) or 1.0
        return {n: float(g) / total for n, g in zip(names, gain, strict=True)}

    def contributions(self, Z: np.ndarray, reference: np.ndarray) -> np.ndarray:
        contrib = np.asarray(self.booster.predict(Z, pred_contrib=True, num_threads=1))
        return contrib[:, :-1]

    def predict_explain(self, Z: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # SHAP values plus the bias add up to the raw score: one call gives both
        contrib = np.asarray(self.booster.predict(Z, pred_contrib=True, num_threads=1))
        return _sigmoid(contrib.sum(axis=1)), contrib[:, :-1]


# -- refitted on load -------------------------------------------------------------------------------
class _Refit(Algorithm):
    refit_on_load = True
    model: Any

    def dump(self) -> bytes:
        return json.dumps(
            {"algorithm": self.name, "params": self.params, "seed": self.seed}, sort_keys=True
        ).encode()

    @classmethod
    def load(cls, data: bytes, training: tuple[np.ndarray, np.ndarray] | None) -> Algorithm:
        if training is None:
            raise ValidationFailed(f"{cls.name} models are refitted on load and need their training matrix")
        body = json.loads(data)
        algo = cls(body["params"], body["seed"])
        algo.fit(*training)
        return algo

    def predict(self, Z: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_proba(Z)[:, 1], dtype=float)


class RandomForest(_Refit):
    name = "random_forest"
    standardise = False
    default_grid: ClassVar[dict[str, list[Any]]] = {"max_depth": [4, 8], "min_samples_leaf": [10, 30]}

    def fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        from sklearn.ensemble import RandomForestClassifier

        self.model = RandomForestClassifier(
            n_estimators=int(self.params.get("n_estimators", 200)),
            max_depth=self.params.get("max_depth"),
            min_samples_leaf=int(self.params.get("min_samples_leaf", 10)),
            random_state=self.seed,
            n_jobs=1,
        )
        self.model.fit(Z, y)

    def weights(self, names: list[str]) -> dict[str, float]:
        return {n: float(v) for n, v in zip(names, self.model.feature_importances_, strict=True)}


class SVM(_Refit):
    name = "svm"
    default_grid: ClassVar[dict[str, list[Any]]] = {"C": [0.5, 2.0]}

    def fit(self, Z: np.ndarray, y: np.ndarray) -> None:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.model_selection import StratifiedKFold
        from sklearn.svm import SVC

        svc = SVC(
            C=float(self.params.get("C", 1.0)), kernel=str(self.params.get("kernel", "rbf")), gamma="scale"
        )
        cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=self.seed)
        self.model = CalibratedClassifierCV(svc, method="sigmoid", cv=cv)
        self.model.fit(Z, y)


ALGORITHMS: dict[str, type[Algorithm]] = {
    cls.name: cls for cls in (Lasso, Ridge, LightGBM, RandomForest, SVM)
}


def algorithm_class(name: str) -> type[Algorithm]:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValidationFailed(
            f"unknown algorithm {name!r}", hint=f"choose one of {sorted(ALGORITHMS)}"
        ) from None


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = sorted(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


def _folds(y: np.ndarray, folds: int, seed: int) -> Any:
    from sklearn.model_selection import StratifiedKFold

    n_splits = int(min(folds, max(2, min(np.bincount(y.astype(int), minlength=2)))))
    return StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)


def _fold_aurocs(
    cls: type[Algorithm],
    point: dict[str, Any],
    Z: np.ndarray,
    y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    seed: int,
) -> list[float]:
    from sklearn.metrics import roc_auc_score

    scores = []
    for tr, va in splits:
        algo = cls(point, seed)
        algo.fit(Z[tr], y[tr])
        scores.append(float(roc_auc_score(y[va], algo.predict(Z[va]))))
    return scores


def search(
    cls: type[Algorithm], Z: np.ndarray, y: np.ndarray, grid: dict[str, list[Any]], folds: int, seed: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """k-fold stratified search of the grid by mean AUROC; returns the chosen point and every result.

    LightGBM has its own search (early-stopped rounds, one-standard-error rule); the others keep
    the point with the best mean AUROC.
    """
    if issubclass(cls, LightGBM):
        return cls.search(Z, y, grid, folds, seed)
    points = grid_points(grid or cls.default_grid)
    if len(points) == 1:
        return points[0], [{"params": points[0], "cv_auroc": None}]
    splits = list(_folds(y, folds, seed).split(Z, y))
    results: list[dict[str, Any]] = []
    for point in points:
        results.append(
            {"params": point, "cv_auroc": float(np.mean(_fold_aurocs(cls, point, Z, y, splits, seed)))}
        )
    best = max(results, key=lambda r: r["cv_auroc"] or 0.0)
    return dict(best["params"]), results
