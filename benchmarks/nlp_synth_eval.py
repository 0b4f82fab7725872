"""The NLP pipeline against the synthetic hospital's gold (gold/notes_gold.jsonl, see docs/sources.md).

    .venv/bin/medlake synth --patients 200 --seed 1 --out /tmp/nlp-synth
    .venv/bin/python benchmarks/nlp_synth_eval.py --synth /tmp/nlp-synth \
        [--code-table ../shared/data/lexicons/ICD_10v601.csv] [--model DIR]

Reports strict entity P/R/F1 per type, assertion accuracy (ConText plus dated history on the gold
spans, per label), time accuracy (gold times resolved to the same date, relative ones ± 3 days), value accuracy (the gold value found right
after its entity) and ICD-10 coding accuracy (exact code and same 3-character category).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, timedelta
from pathlib import Path

from medlake.nlp.evaluate import Scores
from medlake.nlp.pipeline import Pipeline, PipelineConfig
from medlake.nlp.timex import find_times
from medlake.nlp.types import Span, TimeExpr


def _time_ok(got: TimeExpr | None, want: date) -> bool:
    """Same date; for a relative expression, within its range ± 3 days (months are not all 30 days).
    An event-relative expression (末次化疗后22天) also matches on the event's own date, which is
    what the synthetic gold records for it."""
    if got is None or got.date_from is None:
        return False
    if got.event_date == want:
        return True
    if got.anchor == "absolute":
        return got.date_from == want
    lo, hi = got.date_from, got.date_to or got.date_from
    return (lo - timedelta(days=3)) <= want <= (hi + timedelta(days=3))


def _acc(ok: int, n: int) -> dict[str, float | int | None]:
    return {"n": n, "accuracy": round(ok / n, 4) if n else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--synth", type=Path, required=True)
    ap.add_argument("--code-table", type=Path)
    ap.add_argument("--model", type=Path)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    texts = {}
    for path in sorted((args.synth / "emr").glob("notes-*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                obj = json.loads(line)
                texts[obj["doc_id"]] = obj["text"]
    golds = [
        json.loads(x)
        for x in (args.synth / "gold" / "notes_gold.jsonl").read_text("utf-8").splitlines()
        if x.strip()
    ]
    if args.limit:
        golds = golds[: args.limit]
    pipeline = Pipeline(PipelineConfig(model_dir=args.model, code_table=args.code_table))
    scores = Scores()
    assertion: dict[str, list[int]] = {}
    times_ok = times_n = values_ok = values_n = code_ok = code_cat = code_n = 0
    t0 = time.process_time()
    for g in golds:
        text = texts[g["doc_id"]]
        doc_date = date.fromisoformat(g["doc_date"])
        ents = pipeline.annotate(text, doc_date)
        gold_spans = [Span(e["start"], e["end"], e["type"]) for e in g["entities"]]
        scores.add_doc(gold_spans, [Span(e.start, e.end, e.type) for e in ents])
        asserted = pipeline.assert_spans(text, gold_spans, doc_date)
        for e, pred in zip(g["entities"], asserted, strict=True):
            slot = assertion.setdefault(e["assertion"], [0, 0])
            slot[0] += pred == e["assertion"]
            slot[1] += 1
        found = {(t.start, t.end): t for t in find_times(text, doc_date)}
        for t in g.get("times", []):
            times_n += 1
            times_ok += _time_ok(found.get((t["start"], t["end"])), date.fromisoformat(t["date"]))
        values = pipeline.values.find(text)
        for e in g["entities"]:
            if e.get("value") in (None, ""):
                continue
            values_n += 1
            near = [v for v in values if e["end"] <= v.start <= e["end"] + 12]
            try:
                want = float(str(e["value"]).split("/")[0])
            except ValueError:
                continue
            values_ok += bool(near) and near[0].number == want
        if pipeline.coder is not None:
            for e in g["entities"]:
                if e.get("code"):
                    code_n += 1
                    c = pipeline.coder.code(e["text"])
                    code_ok += c is not None and c.code == e["code"]
                    code_cat += c is not None and c.code[:3] == e["code"][:3]
    cpu = time.process_time() - t0
    out = scores.as_dict()
    out["notes"] = len(golds)
    out["notes_per_cpu_second"] = round(len(golds) / cpu, 1)
    out["assertion"] = {k: _acc(*v) for k, v in sorted(assertion.items())}
    total = [sum(v[0] for v in assertion.values()), sum(v[1] for v in assertion.values())]
    out["assertion"]["overall"] = _acc(*total)
    out["time"] = _acc(times_ok, times_n)
    out["value"] = _acc(values_ok, values_n)
    out["coding_exact"] = _acc(code_ok, code_n)
    out["coding_category"] = _acc(code_cat, code_n)
    out["system"] = pipeline.system
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
