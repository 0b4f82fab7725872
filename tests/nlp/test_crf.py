"""The trainable CRF: label coding, training to a model directory, prediction and CV on a tiny corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medlake.errors import InputFormatError, NlpModelError
from medlake.nlp.corpus import Document, read_corpus
from medlake.nlp.crf import CrfModel, Resources, TrainParams, bioes, decode, gazetteer, segments, tidy, train
from medlake.nlp.evaluate import Scores, cross_validate, evaluate, kfold
from medlake.nlp.features import char_features
from medlake.nlp.types import DISEASE, DRUG, Span

FAST = TrainParams(max_iterations=40, inner_folds=2)


def test_bioes_roundtrip() -> None:
    spans = [Span(0, 3, DISEASE), Span(3, 4, DRUG), Span(5, 7, "解剖部位")]
    labels = bioes(8, spans)
    assert labels == ["B-DIS", "I-DIS", "E-DIS", "S-DRUG", "O", "B-ANAT", "E-ANAT", "O"]
    assert decode(labels) == spans


def test_decode_is_tolerant() -> None:
    got = decode(["B-DIS", "I-DIS", "O", "I-DRUG", "E-DRUG", "B-ANAT", "B-DIS", "E-DIS", "I-ANAT"], offset=10)
    assert got == [
        Span(10, 12, DISEASE),
        Span(13, 15, DRUG),
        Span(15, 16, "解剖部位"),
        Span(16, 18, DISEASE),
        Span(18, 19, "解剖部位"),
    ]


def test_segments_never_cut_a_span() -> None:
    text = "无发热。咳嗽。"
    assert segments(text) == [(0, 4), (4, 7)]
    assert segments(text, [Span(2, 5, DISEASE)]) == [(0, 7)]


def test_gazetteer_majority_type() -> None:
    docs = [
        Document("a", "肺癌肺癌", [Span(0, 2, DISEASE), Span(2, 4, DISEASE)]),
        Document("b", "肺癌", [Span(0, 2, DRUG)]),
    ]
    assert gazetteer(docs) == [("肺癌", DISEASE)]


def test_features_have_one_list_per_char(light_resources: Resources) -> None:
    feats = char_features("胸部CT示肺癌", [("d", light_resources.base_matcher(), True)])
    assert len(feats) == 7
    assert "c0=C" in feats[2]
    assert any(f.startswith("d:IMG:") for f in feats[0])


def test_train_predict_and_reload(
    tmp_path: Path, tiny_corpus: list[Document], light_resources: Resources
) -> None:
    model = train(tiny_corpus[:50], tmp_path / "m", params=FAST, resources=light_resources)
    for name in ("model.crfsuite", "meta.json", "gazetteer.tsv"):
        assert (tmp_path / "m" / name).exists()
    meta = json.loads((tmp_path / "m" / "meta.json").read_text("utf-8"))
    assert meta["format_version"] == 1 and meta["documents"] == 50
    result = evaluate(model.predict, tiny_corpus[50:])
    assert result["overall"]["f1"] > 0.8
    again = CrfModel.load(tmp_path / "m", resources=light_resources)
    text = tiny_corpus[55].text
    assert again.predict(text) == model.predict(text)
    assert model.predict("") == []


def test_load_rejects_non_models(tmp_path: Path) -> None:
    with pytest.raises(NlpModelError):
        CrfModel.load(tmp_path)
    (tmp_path / "model.crfsuite").write_bytes(b"")
    (tmp_path / "meta.json").write_text(json.dumps({"format_version": 99, "kind": "x"}), "utf-8")
    with pytest.raises(NlpModelError, match="unsupported"):
        CrfModel.load(tmp_path)


def test_scores_are_strict() -> None:
    s = Scores()
    s.add_doc([Span(0, 2, DISEASE), Span(3, 5, DRUG)], [Span(0, 2, DISEASE), Span(3, 6, DRUG)])
    d = s.as_dict()
    assert d["overall"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "tp": 1, "fp": 1, "fn": 1}
    assert d["per_type"][DRUG]["f1"] == 0.0


def test_kfold_partitions() -> None:
    folds = kfold(23, 5)
    assert sorted(i for f in folds for i in f) == list(range(23))


def test_cross_validate_pools_folds(tmp_path: Path, light_resources: Resources, corpus_factory) -> None:  # type: ignore[no-untyped-def]
    docs = corpus_factory(30, seed=3)

    def train_fn(train_docs: list[Document], out: Path):  # type: ignore[no-untyped-def]
        return train(train_docs, out, params=FAST, resources=light_resources).predict

    seen: list[int] = []
    result = cross_validate(
        docs, 3, train_fn, only_folds=[0, 2], on_prediction=lambda i, _spans: seen.append(i)
    )
    assert [f["fold"] for f in result["folds"]] == [0, 2]
    assert sorted(seen) == sorted(kfold(30, 3)[0] + kfold(30, 3)[2])
    gold = sum(len(docs[i].spans) for f in (0, 2) for i in kfold(30, 3)[f])
    assert result["overall"]["tp"] + result["overall"]["fn"] == gold


def test_corpus_readers(tmp_path: Path, tiny_corpus: list[Document], yidu_writer) -> None:  # type: ignore[no-untyped-def]
    path = yidu_writer(tiny_corpus[:3], tmp_path / "y.jsonl")
    docs = read_corpus(path, "yidu")
    assert [d.spans for d in docs] == [d.spans for d in tiny_corpus[:3]]
    ccks = tmp_path / "ccks" / "病史特点"
    ccks.mkdir(parents=True)
    (ccks / "病史特点-1.txtoriginal.txt").write_text("患者胸部CT示肺癌，予顺铂化疗。", "utf-8")
    (ccks / "病史特点-1.txt").write_text(
        "胸部CT\t2\t5\t检查和检验\n肺癌\t7\t8\t疾病和诊断\n顺铂\t11\t12\t治疗\n", "utf-8"
    )
    (doc,) = read_corpus(tmp_path / "ccks", "ccks2017")
    assert [(doc.text[s.start : s.end], s.label) for s in doc.spans] == [
        ("胸部CT", "影像检查"),
        ("肺癌", DISEASE),
        ("顺铂", DRUG),
    ]
    med = tmp_path / "m.jsonl"
    med.write_text(
        json.dumps({"doc_id": "n1", "text": "肺癌", "entities": [{"type": DISEASE, "start": 0, "end": 2}]})
        + "\n",
        "utf-8",
    )
    assert read_corpus(med, "medlake")[0].spans == [Span(0, 2, DISEASE)]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps(
            {"originalText": "肺癌", "entities": [{"label_type": DISEASE, "start_pos": 0, "end_pos": 9}]}
        ),
        "utf-8",
    )
    with pytest.raises(InputFormatError, match="outside"):
        read_corpus(bad, "yidu")
    with pytest.raises(InputFormatError, match="unknown corpus format"):
        read_corpus(bad, "conll")


def test_medlake_format_reads_synthetic_gold_beside_its_notes(tmp_path: Path) -> None:
    (tmp_path / "emr").mkdir()
    (tmp_path / "gold").mkdir()
    note = {"doc_id": "D1", "text": "患者无发热，诊断肺炎。"}
    (tmp_path / "emr" / "notes-2021.jsonl").write_text(json.dumps(note, ensure_ascii=False) + "\n", "utf-8")
    gold = {
        "doc_id": "D1",
        "doc_date": "2021-01-01",
        "entities": [{"type": DISEASE, "start": 8, "end": 10, "text": "肺炎"}],
    }
    (tmp_path / "gold" / "notes_gold.jsonl").write_text(json.dumps(gold, ensure_ascii=False) + "\n", "utf-8")
    (doc,) = read_corpus(tmp_path / "gold" / "notes_gold.jsonl", "medlake")
    assert doc.text[8:10] == "肺炎" and doc.spans == [Span(8, 10, DISEASE)]


def test_averaged_perceptron_trains_too(
    tmp_path: Path, tiny_corpus: list[Document], light_resources: Resources
) -> None:
    params = TrainParams(max_iterations=5, inner_folds=2, algorithm="ap")
    assert "c1" not in params.crfsuite()
    model = train(tiny_corpus[:50], tmp_path / "ap", params=params, resources=light_resources)
    assert evaluate(model.predict, tiny_corpus[50:])["overall"]["f1"] > 0.8
    with pytest.raises(NlpModelError, match="unknown training algorithm"):
        TrainParams(algorithm="sgd").crfsuite()


def test_tidy_fixes_span_edges() -> None:
    text = "行（远端胃切除术），予 希罗达 口服，(胃癌"
    spans = [Span(1, 10, "手术"), Span(12, 16, DRUG), Span(19, 22, DISEASE)]
    assert [text[s.start : s.end] for s in tidy(text, spans)] == ["远端胃切除术", "希罗达", "胃癌"]
    kept = [Span(0, 6, DISEASE)]
    assert tidy("肺癌（晚期）", kept) == kept  # brackets inside a span stay
    assert tidy("，。", [Span(0, 2, DISEASE)]) == []
