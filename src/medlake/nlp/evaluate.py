"""Strict entity-level evaluation (exact offsets and type) and k-fold cross-validation.

``score`` compares gold and predicted spans per document; ``cross_validate`` trains one CRF per
fold on the other folds (each with its own out-of-fold gazetteer) and pools the counts.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medlake.nlp.corpus import Document
from medlake.nlp.types import Span


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Counts) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    def as_dict(self) -> dict[str, float | int]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {
            "precision": round(p, 4),
            "recall": round(r, 4),
            "f1": round(f, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass
class Scores:
    overall: Counts = field(default_factory=Counts)
    per_type: dict[str, Counts] = field(default_factory=dict)

    def add_doc(self, gold: Sequence[Span], pred: Sequence[Span]) -> None:
        g, p = set(gold), set(pred)
        for label in {s.label for s in g | p}:
            gl = {s for s in g if s.label == label}
            pl = {s for s in p if s.label == label}
            c = Counts(len(gl & pl), len(pl - gl), len(gl - pl))
            self.per_type.setdefault(label, Counts()).add(c)
            self.overall.add(c)

    def merge(self, other: Scores) -> None:
        self.overall.add(other.overall)
        for label, c in other.per_type.items():
            self.per_type.setdefault(label, Counts()).add(c)

    def as_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.as_dict(),
            "per_type": {k: v.as_dict() for k, v in sorted(self.per_type.items())},
        }


def evaluate(predict: Callable[[str], list[Span]], docs: Sequence[Document]) -> dict[str, Any]:
    """Strict scores of ``predict`` on ``docs`` plus throughput."""
    scores = Scores()
    t0 = time.perf_counter()
    for doc in docs:
        scores.add_doc(doc.spans, predict(doc.text))
    seconds = time.perf_counter() - t0
    out = scores.as_dict()
    out["documents"] = len(docs)
    out["notes_per_second"] = round(len(docs) / seconds, 1) if seconds > 0 else None
    out["chars_per_second"] = round(sum(len(d.text) for d in docs) / seconds) if seconds > 0 else None
    return out


def kfold(n: int, folds: int, seed: int = 7) -> list[list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [sorted(order[i::folds]) for i in range(folds)]


def cross_validate(
    docs: Sequence[Document],
    folds: int,
    train_fn: Callable[[list[Document], Path], Callable[[str], list[Span]]],
    *,
    only_folds: Sequence[int] | None = None,
    progress: Callable[[str], None] | None = None,
    on_prediction: Callable[[int, list[Span]], None] | None = None,
) -> dict[str, Any]:
    """Pooled strict scores over ``folds`` folds (or the chosen ``only_folds``), plus per-fold F1.

    ``on_prediction(doc_index, spans)`` sees every held-out prediction (e.g. to keep them for analysis).
    """
    say = progress or (lambda _m: None)
    total = Scores()
    per_fold: list[dict[str, Any]] = []
    train_seconds = 0.0
    pred_seconds = 0.0
    for f, held in enumerate(kfold(len(docs), folds)):
        if only_folds is not None and f not in only_folds:
            continue
        held_set = set(held)
        train_docs = [d for i, d in enumerate(docs) if i not in held_set]
        with tempfile.TemporaryDirectory(prefix="medlake-nlp-cv-") as tmp:
            t0 = time.perf_counter()
            predict = train_fn(train_docs, Path(tmp))
            t1 = time.perf_counter()
            fold_scores = Scores()
            for i in held:
                pred = predict(docs[i].text)
                fold_scores.add_doc(docs[i].spans, pred)
                if on_prediction is not None:
                    on_prediction(i, pred)
            t2 = time.perf_counter()
        train_seconds += t1 - t0
        pred_seconds += t2 - t1
        total.merge(fold_scores)
        f1 = fold_scores.overall.as_dict()["f1"]
        per_fold.append({"fold": f, "f1": f1, "train_seconds": round(t1 - t0, 1)})
        say(f"fold {f + 1}/{folds}: strict F1 {f1:.4f}")
    out = total.as_dict()
    out["folds"] = per_fold
    out["train_seconds"] = round(train_seconds, 1)
    n_pred = sum(1 for _ in per_fold) and sum(len(kfold(len(docs), folds)[p["fold"]]) for p in per_fold)
    out["notes_per_second"] = round(n_pred / pred_seconds, 1) if pred_seconds > 0 else None
    return out
