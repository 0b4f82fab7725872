"""Scoring against stand-off annotations of real sentences (offsets and labels only, never text).

Each line of the gold file names a corpus file and record, a sentence span and the labels of that
sentence: entity assertions, times (with their dates against a fixed document date) or values
(number, high, UCUM unit, kind). ``score_standoff`` reads the texts from a local copy of the
corpora and reports accuracy per task.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from medlake.nlp.context import ConText
from medlake.nlp.timex import find_times
from medlake.nlp.values import ValueFinder


def _texts(root: Path) -> Callable[[str, Any], str]:
    cache: dict[str, list[str]] = {}

    def text_of(corpus: str, record: Any) -> str:
        if corpus.startswith("yidu"):
            if corpus not in cache:
                with open(root / corpus, encoding="utf-8-sig") as fh:
                    cache[corpus] = [json.loads(line)["originalText"] for line in fh if line.strip()]
            return cache[corpus][int(record)]
        return (root / corpus / str(record)).read_text("utf-8-sig").rstrip("\r\n")

    return text_of


def score_standoff(gold_path: Path, data_root: Path) -> dict[str, Any]:
    """Accuracy of assertions, times and values on the gold sentences (plus the misses' offsets)."""
    text_of = _texts(data_root)
    ctx, vf = ConText(), ValueFinder()
    counts = {k: [0, 0] for k in ("assertion", "time", "value")}
    sentences = {k: 0 for k in counts}
    misses: dict[str, list[Any]] = {k: [] for k in counts}
    per_label: dict[str, list[int]] = {}
    for line in gold_path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        g = json.loads(line)
        task = g["task"]
        text = text_of(g["corpus"], g["record"])
        a, b = g["sentence"]
        sentences[task] += 1
        if task == "assertion":
            spans = [(s, e) for s, e, _ in g["entities"]]
            got = ctx.assert_spans(text[a:b], [(s - a, e - a) for s, e in spans])
            for (s, e, label), (pred, _) in zip(g["entities"], got, strict=True):
                ok = pred == label
                counts[task][0] += ok
                counts[task][1] += 1
                per_label.setdefault(label, [0, 0])
                per_label[label][0] += ok
                per_label[label][1] += 1
                if not ok:
                    misses[task].append([g["record"], s, e, label, pred])
        elif task == "time":
            found = find_times(text[a:b], date.fromisoformat(g["doc_date"]))
            by_span = {
                (t.start + a, t.end + a): (
                    t.date_from.isoformat() if t.date_from else None,
                    t.date_to.isoformat() if t.date_to else None,
                )
                for t in found
            }
            for s, e, lo, hi in g["times"]:
                ok = by_span.get((s, e)) == (lo, hi)
                counts[task][0] += ok
                counts[task][1] += 1
                if not ok:
                    misses[task].append([g["record"], s, e, lo, hi])
        else:
            got_v = {(v.start + a, v.end + a): (v.number, v.high, v.ucum, v.kind) for v in vf.find(text[a:b])}
            for s, e, num, high, ucum, kind in g["values"]:
                ok = got_v.get((s, e)) == (num, high, ucum, kind)
                counts[task][0] += ok
                counts[task][1] += 1
                if not ok:
                    misses[task].append([g["record"], s, e, num, ucum])
    out: dict[str, Any] = {}
    for task, (ok, n) in counts.items():
        out[task] = {"sentences": sentences[task], "items": n, "accuracy": round(ok / n, 4) if n else None}
    out["assertion"]["per_label"] = {
        k: {"n": n, "accuracy": round(ok / n, 4)} for k, (ok, n) in sorted(per_label.items())
    }
    out["misses"] = misses
    return out
