"""Throughput of the NLP pipeline on ~1,000-character notes, per core.

    .venv/bin/python benchmarks/nlp_bench.py [--corpus ../shared/data/yidu_s4k/train.jsonl] \
        [--notes 500] [--model DIR] [--code-table ../shared/data/lexicons/ICD_10v601.csv]

Notes are built by concatenating Yidu-S4K records to 1,000 characters. Reported: notes per
CPU-second of one process (``time.process_time``; the machine is shared, so wall time is noisier)
and wall-clock notes per second, for ``annotate`` (entities + assertions + times + values + codes).
A model with a neural part (``nlp train --neural-epochs N``) is also measured with its CRF part alone.
With a CRF-only ``--model`` the same notes also go through crfsuite's own tagger (the previous prediction
path, ``CrfModel.predict_crfsuite``) for comparison, and the two paths' spans are compared.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from medlake.nlp.pipeline import Pipeline, PipelineConfig


def notes_from(corpus: Path, n: int, size: int = 1000) -> list[str]:
    notes: list[str] = []
    cur = ""
    with open(corpus, encoding="utf-8") as fh:
        texts = [json.loads(line)["originalText"] for line in fh if line.strip()]
    while len(notes) < n:
        for t in texts:
            cur += t
            if len(cur) >= size:
                notes.append(cur[:size])
                cur = ""
                if len(notes) >= n:
                    break
    return notes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=Path("../shared/data/yidu_s4k/train.jsonl"))
    ap.add_argument("--notes", type=int, default=500)
    ap.add_argument("--model", type=Path)
    ap.add_argument("--code-table", type=Path)
    args = ap.parse_args()
    try:  # per-core figures: a neural part uses one thread like each `nlp run` worker
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    t0 = time.perf_counter()
    pipeline = Pipeline(PipelineConfig(model_dir=args.model, code_table=args.code_table))
    build = time.perf_counter() - t0
    notes = notes_from(args.corpus, args.notes)
    entities, cpu, wall = _run(pipeline, notes)
    out: dict[str, object] = {
        "system": pipeline.system,
        "notes": len(notes),
        "chars_per_note": 1000,
        "entities_per_note": round(entities / len(notes), 1),
        "notes_per_cpu_second": round(len(notes) / cpu, 1),
        "notes_per_wall_second": round(len(notes) / wall, 1),
        "pipeline_build_seconds": round(build, 1),
    }
    model = pipeline.model
    if model is not None and model.combined:
        # the same notes with the CRF part alone (the fast operating point of the same model)
        out["combined_model_notes_per_cpu_second"] = _model_only(model.predict, notes)
        out["crf_part_notes_per_cpu_second"] = _model_only(model.predict_crf, notes)
        combined = model.predict
        model.predict = model.predict_crf  # type: ignore[method-assign]
        _, cpu, _ = _run(pipeline, notes)
        model.predict = combined  # type: ignore[method-assign]
        out["pipeline_with_crf_part_only_notes_per_cpu_second"] = round(len(notes) / cpu, 1)
    elif model is not None:
        fast = model.predict
        c0 = time.process_time()
        fast_spans = [fast(note) for note in notes]
        out["crf_only_notes_per_cpu_second"] = round(len(notes) / (time.process_time() - c0), 1)
        c0 = time.process_time()
        ref_spans = [model.predict_crfsuite(note) for note in notes]
        out["crfsuite_tagger_crf_only_notes_per_cpu_second"] = round(
            len(notes) / (time.process_time() - c0), 1
        )
        out["notes_with_different_spans"] = sum(a != b for a, b in zip(fast_spans, ref_spans, strict=True))
        model.predict = model.predict_crfsuite  # type: ignore[method-assign]
        _, cpu, _ = _run(pipeline, notes)
        model.predict = fast  # type: ignore[method-assign]
        out["crfsuite_tagger_notes_per_cpu_second"] = round(len(notes) / cpu, 1)
    print(json.dumps(out, ensure_ascii=False, indent=2))


def _model_only(predict: Callable[[str], object], notes: list[str]) -> float:
    for note in notes[:5]:
        predict(note)
    c0 = time.process_time()
    for note in notes:
        predict(note)
    return round(len(notes) / (time.process_time() - c0), 1)


def _run(pipeline: Pipeline, notes: list[str]) -> tuple[int, float, float]:
    for note in notes[:20]:  # warm caches
        pipeline.annotate(note, date(2020, 1, 1))
    c0, w0 = time.process_time(), time.perf_counter()
    entities = sum(len(pipeline.annotate(note, date(2020, 1, 1))) for note in notes)
    return entities, time.process_time() - c0, time.perf_counter() - w0


if __name__ == "__main__":
    main()
