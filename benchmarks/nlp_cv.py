"""Cross-validated strict entity F1 of the CRF on a corpus (Yidu-S4K by default).

Folds can run as separate processes (``--only k --out fk.json``) and be pooled afterwards with
``--merge f0.json f1.json ...`` (counts are summed, then P/R/F1 recomputed).

    nice -n 10 .venv/bin/python benchmarks/nlp_cv.py --corpus ../shared/data/yidu_s4k/train.jsonl \
        --folds 5 [--only 0] [--c1 0.05 --c2 0.02] [--words ../shared/data/lexicons/THUOCL_medical.txt]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from medlake.nlp.corpus import read_corpus
from medlake.nlp.crf import TrainParams, default_resources, train
from medlake.nlp.evaluate import Counts, Scores, cross_validate
from medlake.nlp.lexicon import code_table_terms, thuocl_terms
from medlake.nlp.types import DISEASE


def merge(paths: list[Path]) -> dict:  # type: ignore[type-arg]
    """Pool per-fold results written with ``--out``."""
    total = Scores()
    folds = []
    for path in paths:
        d = json.loads(path.read_text("utf-8"))
        for label, c in d["per_type"].items():
            total.per_type.setdefault(label, Counts()).add(Counts(c["tp"], c["fp"], c["fn"]))
        o = d["overall"]
        total.overall.add(Counts(o["tp"], o["fp"], o["fn"]))
        folds.extend(d["folds"])
    out = total.as_dict()
    out["folds"] = folds
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--merge", type=Path, nargs="+", help="pool per-fold JSON results and exit")
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--format", default="yidu")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--only", type=int, nargs="*")
    ap.add_argument("--c1", type=float, default=0.05)
    ap.add_argument("--c2", type=float, default=0.02)
    ap.add_argument("--iterations", type=int, default=150)
    ap.add_argument("--algorithm", default="lbfgs", choices=["lbfgs", "ap"])
    ap.add_argument("--words", type=Path)
    ap.add_argument("--code-table", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.merge:
        print(json.dumps(merge(args.merge), ensure_ascii=False, indent=2))
        return
    if args.corpus is None:
        ap.error("--corpus is required")
    docs = read_corpus(args.corpus, args.format)
    words = thuocl_terms(args.words) if args.words else None
    extra = [(n, DISEASE) for n, _ in code_table_terms(args.code_table)] if args.code_table else None
    res = default_resources(extra_terms=extra, words=words)
    params = TrainParams(c1=args.c1, c2=args.c2, max_iterations=args.iterations, algorithm=args.algorithm)

    def train_fn(train_docs, tmp):  # type: ignore[no-untyped-def]
        return train(train_docs, tmp, params=params, resources=res).predict

    result = cross_validate(
        docs,
        args.folds,
        train_fn,
        only_folds=args.only,
        progress=lambda m: print(m, file=sys.stderr, flush=True),
    )
    result["params"] = params.__dict__
    result["words"] = bool(words)
    result["code_table"] = bool(extra)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text, "utf-8")


if __name__ == "__main__":
    main()
