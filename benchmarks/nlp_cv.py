"""Cross-validated strict entity F1 of the CRF on a corpus (Yidu-S4K by default).

Folds can run as separate processes (``--only k --out fk.json``) and be pooled afterwards with
``--merge f0.json f1.json ...`` (counts are summed, then P/R/F1 recomputed). ``--predictions``
keeps the held-out spans; ``--rescore`` scores such files again (raw and after ``crf.tidy``).

    nice -n 10 .venv/bin/python benchmarks/nlp_cv.py --corpus ../shared/data/yidu_s4k/train.jsonl \
        --folds 5 [--only 0] [--c1 0.05 --c2 0.02] [--words ../shared/data/lexicons/THUOCL_medical.txt] \
        [--code-table ../shared/data/lexicons/ICD_10v601.csv] [--clusters 120] [--ccks DIR] \
        [--neural-epochs 12 --threads 1] [--out f0.json] [--predictions p0.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from medlake.nlp.corpus import Document, read_corpus
from medlake.nlp.crf import TrainParams, default_resources, gazetteer, tidy, train
from medlake.nlp.evaluate import Counts, Scores, cross_validate
from medlake.nlp.lexicon import code_table_terms, thuocl_terms
from medlake.nlp.neural import NeuralParams
from medlake.nlp.types import DISEASE, Span


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


def rescore(docs: list[Document], paths: list[Path]) -> dict:  # type: ignore[type-arg]
    """Pooled scores of saved held-out predictions, raw and after ``crf.tidy``."""
    raw, tidied = Scores(), Scores()
    for path in paths:
        for line in path.read_text("utf-8").splitlines():
            d = json.loads(line)
            doc = docs[d["doc"]]
            spans = [Span(a, b, label) for a, b, label in d["spans"]]
            raw.add_doc(doc.spans, spans)
            tidied.add_doc(doc.spans, tidy(doc.text, spans))
    return {"raw": raw.as_dict(), "tidy": tidied.as_dict()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--merge", type=Path, nargs="+", help="pool per-fold JSON results and exit")
    ap.add_argument(
        "--rescore",
        type=Path,
        nargs="+",
        help="score saved --predictions files against --corpus after crf.tidy (the span fixes) and exit",
    )
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--format", default="yidu")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--only", type=int, nargs="*")
    ap.add_argument("--c1", type=float, default=0.05)
    ap.add_argument("--c2", type=float, default=0.02)
    ap.add_argument("--iterations", type=int, default=150)
    ap.add_argument("--algorithm", default="lbfgs", choices=["lbfgs", "ap"])
    ap.add_argument(
        "--inner-folds", type=int, default=TrainParams.inner_folds, help="folds of the OOF gazetteer"
    )
    ap.add_argument("--words", type=Path)
    ap.add_argument("--code-table", type=Path)
    ap.add_argument(
        "--ccks", type=Path, help="CCKS 2017 folder: its annotated terms become dictionary features"
    )
    ap.add_argument(
        "--clusters", type=int, default=0, help="character clusters learned from the training texts"
    )
    ap.add_argument("--unlabeled", type=Path, help="CCKS 2017 folder whose texts also feed the clusters")
    ap.add_argument(
        "--neural-epochs",
        type=int,
        default=0,
        help="also train the BiLSTM-CRF for this many epochs and average it with the CRF (0: CRF only)",
    )
    ap.add_argument("--threads", type=int, default=0, help="PyTorch threads (0: its default)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--predictions", type=Path, help="write held-out predictions (JSONL: doc, spans)")
    args = ap.parse_args()
    if args.merge:
        print(json.dumps(merge(args.merge), ensure_ascii=False, indent=2))
        return
    if args.corpus is None:
        ap.error("--corpus is required")
    docs = read_corpus(args.corpus, args.format)
    if args.rescore:
        print(json.dumps(rescore(docs, args.rescore), ensure_ascii=False, indent=2))
        return
    words = thuocl_terms(args.words) if args.words else None
    extra = [(n, DISEASE) for n, _ in code_table_terms(args.code_table)] if args.code_table else []
    if args.ccks:
        extra += gazetteer(read_corpus(args.ccks, "ccks2017"))
    res = default_resources(extra_terms=extra, words=words)
    if args.unlabeled:
        res.unlabeled = [d.text for d in read_corpus(args.unlabeled, "ccks2017")]
    params = TrainParams(
        c1=args.c1,
        c2=args.c2,
        max_iterations=args.iterations,
        algorithm=args.algorithm,
        clusters=args.clusters,
        inner_folds=args.inner_folds,
    )

    neural = NeuralParams(epochs=args.neural_epochs) if args.neural_epochs else None
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    def train_fn(train_docs, tmp):  # type: ignore[no-untyped-def]
        say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
        return train(train_docs, tmp, params=params, resources=res, neural=neural, progress=say).predict

    preds: list[dict] = []  # type: ignore[type-arg]

    def keep(i: int, spans: list[Span]) -> None:
        preds.append({"doc": i, "spans": [[s.start, s.end, s.label] for s in spans]})

    result = cross_validate(
        docs,
        args.folds,
        train_fn,
        only_folds=args.only,
        progress=lambda m: print(m, file=sys.stderr, flush=True),
        on_prediction=keep if args.predictions else None,
    )
    if args.predictions:
        lines = (json.dumps(p, ensure_ascii=False) for p in sorted(preds, key=lambda p: p["doc"]))
        args.predictions.write_text("\n".join(lines) + "\n", "utf-8")
    result["params"] = params.__dict__
    result["neural"] = neural.__dict__ if neural else None
    result["words"] = bool(words)
    result["code_table"] = bool(args.code_table)
    result["ccks"] = bool(args.ccks)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text, "utf-8")


if __name__ == "__main__":
    main()
