"""The neural part and the CRF + BiLSTM-CRF average: marginals checked against brute force and
crfsuite, valid label paths, a model directory that round-trips."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from medlake.errors import NlpModelError
from medlake.nlp.corpus import Document
from medlake.nlp.crf import (
    CrfModel,
    Resources,
    TrainParams,
    _doc_features,
    _valid_transitions,
    segments,
    train,
)
from medlake.nlp.fasttag import best_valid_path, chain_marginals
from medlake.nlp.neural import LABELS, NeuralParams
from medlake.nlp.textnorm import normalize


@pytest.fixture(scope="module")
def combined(
    tmp_path_factory: pytest.TempPathFactory, tiny_corpus: list[Document], light_resources: Resources
) -> CrfModel:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("neural") / "m"
    return train(
        tiny_corpus[:40],
        out,
        params=TrainParams(max_iterations=30, inner_folds=2),
        resources=light_resources,
        neural=NeuralParams(epochs=3, hidden=24, char_dim=16, bigram_dim=8, dict_dim=8),
    )


def _brute_marginals(em: np.ndarray, trans: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    T, L = em.shape
    out = np.zeros((T, L))
    z = 0.0
    for path in itertools.product(range(L), repeat=T):
        s = start[path[0]] + end[path[-1]] + sum(em[t, path[t]] for t in range(T))
        s += sum(trans[path[t - 1], path[t]] for t in range(1, T))
        w = np.exp(s)
        z += w
        for t, k in enumerate(path):
            out[t, k] += w
    return out / z


def test_chain_marginals_equal_enumeration() -> None:
    rng = np.random.default_rng(3)
    L, lens = 3, [4, 2, 1]
    state = rng.normal(size=(sum(lens), L))
    trans, start, end = rng.normal(size=(L, L)), rng.normal(size=L), rng.normal(size=L)
    seg_starts = np.array([0, 4, 6], dtype=np.int64)
    got = chain_marginals(state, seg_starts, trans, start, end)
    for a, n in zip(seg_starts.tolist(), lens, strict=True):
        want = _brute_marginals(state[a : a + n], trans, start, end)
        np.testing.assert_allclose(got[a : a + n], want, atol=1e-9)


def test_crf_marginals_equal_crfsuite(combined: CrfModel, tiny_corpus: list[Document]) -> None:
    fast, tagger = combined._fast, combined._tagger
    for doc in tiny_corpus[40:46]:
        text = doc.text
        pieces = segments(text)
        got = fast.marginals(
            fast.attribute_ids(normalize(text)), np.array([a for a, _ in pieces], dtype=np.int64)
        )
        feats = _doc_features(text, combined._res, combined._gaz)
        for a, b in pieces:
            tagger.set(feats[a:b])
            want = np.array([[tagger.marginal(lab, t) for lab in fast.labels] for t in range(b - a)])
            np.testing.assert_allclose(got[a:b], want, atol=1e-9)


def _brute_path(logp: np.ndarray, allowed: np.ndarray, first: np.ndarray, final: np.ndarray) -> float:
    best = -np.inf
    T, L = logp.shape
    for path in itertools.product(range(L), repeat=T):
        if not first[path[0]] or not final[path[-1]]:
            continue
        if all(allowed[path[t - 1], path[t]] for t in range(1, T)):
            best = max(best, sum(logp[t, k] for t, k in enumerate(path)))
    return best


def test_best_valid_path_is_valid_and_best() -> None:
    labels = ("O", "B-DIS", "I-DIS", "E-DIS", "S-DIS", "B-DRUG", "E-DRUG")
    allowed, first, final = _valid_transitions(labels)
    rng = np.random.default_rng(4)
    for _ in range(20):
        logp = np.log(rng.dirichlet(np.ones(len(labels)), size=5))
        path = best_valid_path(logp, np.array([0, 3], dtype=np.int64), allowed, first, final)
        for a, b in ((0, 3), (3, 5)):
            seg = path[a:b]
            assert first[seg[0]] and final[seg[-1]]
            assert all(allowed[seg[t - 1], seg[t]] for t in range(1, len(seg)))
            assert sum(logp[a + t, k] for t, k in enumerate(seg)) == pytest.approx(
                _brute_path(logp[a:b], allowed, first, final)
            )


def test_combined_model_round_trips(
    combined: CrfModel, tiny_corpus: list[Document], light_resources: Resources
) -> None:
    assert combined.combined
    meta = json.loads((combined.directory / "meta.json").read_text("utf-8"))
    assert meta["neural"]["epochs"] == 3
    reloaded = CrfModel.load(combined.directory, resources=light_resources)
    texts = [d.text for d in tiny_corpus[40:]] + ["", "。", "患者无发热。\n\n肺癌"]
    for text in texts:
        spans = combined.predict(text)
        assert spans == reloaded.predict(text)
        assert all(0 <= s.start < s.end <= len(text) for s in spans)
    # the average is at least as good as the CRF alone on these held-out notes (synthetic, easy)
    gold = sum(len(d.spans) for d in tiny_corpus[40:])
    hits = sum(len(set(d.spans) & set(combined.predict(d.text))) for d in tiny_corpus[40:])
    assert hits / gold > 0.8


def test_retraining_without_neural_drops_the_old_neural_part(
    tmp_path: Path, combined: CrfModel, tiny_corpus: list[Document], light_resources: Resources
) -> None:
    out = tmp_path / "m"
    for name in ("neural.json", "neural.pt"):
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes((combined.directory / name).read_bytes())
    model = train(
        tiny_corpus[:20], out, params=TrainParams(max_iterations=10, inner_folds=2), resources=light_resources
    )
    assert not model.combined and not (out / "neural.pt").exists()


def test_unknown_neural_format_is_refused(
    tmp_path: Path, combined: CrfModel, light_resources: Resources
) -> None:
    out = tmp_path / "m"
    shutil.copytree(combined.directory, out)
    meta = json.loads((out / "neural.json").read_text("utf-8"))
    meta["labels"] = list(reversed(LABELS))
    (out / "neural.json").write_text(json.dumps(meta), "utf-8")
    with pytest.raises(NlpModelError, match="labels"):
        CrfModel.load(out, resources=light_resources)


def test_combined_model_in_forked_workers_matches_serial(
    tmp_path: Path, combined: CrfModel, tiny_corpus: list[Document]
) -> None:
    """`nlp run` forks its workers after the model is loaded: torch must work there, one thread each."""
    from datetime import date

    from medlake.cdm.lake import Lake
    from medlake.nlp.lake_run import run
    from medlake.nlp.pipeline import Pipeline, PipelineConfig

    pipeline = Pipeline(PipelineConfig(model_dir=combined.directory, use_cmekg=False))
    assert pipeline.system == "medlake-nlp/crf+bilstm+dict"
    pipeline.annotate(tiny_corpus[50].text, date(2021, 1, 1))  # the parent has used torch before the fork
    rows = [
        {
            "note_id": i,
            "person_id": 1,
            "note_date": date(2021, 1, 1),
            "note_text": d.text,
            "visit_occurrence_id": 1,
            "src_system": "EMR",
        }
        for i, d in enumerate(tiny_corpus[40:52], start=1)
    ]
    results = []
    for workers in (1, 2):
        lake = Lake(tmp_path / f"w{workers}").ensure()
        with lake.transaction() as tx:
            tx.write("note", "notes", rows)
        stats = run(lake, pipeline, workers=workers, batch_size=4)
        assert stats.notes_processed == len(rows)
        con = lake.connect()
        results.append(
            con.execute(
                "SELECT note_id, offset_start, lexical_variant, nlp_system FROM note_nlp ORDER BY 1, 2"
            ).fetchall()
        )
        con.close()
    assert results[0] == results[1] and results[0]
    assert {r[3] for r in results[0]} == {"medlake-nlp/crf+bilstm+dict"}


def test_pipeline_can_use_the_crf_part_alone(combined: CrfModel, tiny_corpus: list[Document]) -> None:
    from medlake.nlp.pipeline import Pipeline, PipelineConfig

    fast = Pipeline(PipelineConfig(model_dir=combined.directory, use_cmekg=False, crf_only=True))
    assert fast.system == "medlake-nlp/crf+dict"
    text = tiny_corpus[45].text
    model_spans = {s for s, source, _ in fast.spans(text) if source == "crf"}
    assert model_spans and model_spans <= set(combined.predict_crf(text))


def test_damaged_neural_weights_are_a_clear_error(
    tmp_path: Path, combined: CrfModel, light_resources: Resources
) -> None:
    out = tmp_path / "m"
    shutil.copytree(combined.directory, out)
    (out / "neural.pt").write_bytes(b"not a state dict")
    with pytest.raises(NlpModelError, match="damaged"):
        CrfModel.load(out, resources=light_resources)
    (out / "neural.pt").unlink()
    with pytest.raises(NlpModelError, match="missing"):
        CrfModel.load(out, resources=light_resources)
