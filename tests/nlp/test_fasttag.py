"""The fast prediction path: same labels as crfsuite's tagger, same hits as a plain substring search."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from medlake.nlp.corpus import Document
from medlake.nlp.crf import CrfModel, Resources, TrainParams, _doc_features, _matchers, segments, train
from medlake.nlp.fasttag import _split_tokens, token_codes
from medlake.nlp.features import CHAR_NGRAMS, char_features
from medlake.nlp.lexicon import Lexicon, builtin_terms
from medlake.nlp.matcher import DictMatcher
from medlake.nlp.textnorm import normalize
from medlake.nlp.types import DISEASE, DRUG

EXTRA_TEXTS = [
    "患者2019年3月因“肺癌”行CT检查，WBC 12.5×10^9/L，予奥沙利铂100mg治疗。",
    "ＣＴ示右肺上叶占位；复查ｃｅａ：５．６！无发热？",
    "既往高血压病史10年，口服阿司匹林；否认糖尿病。\n查体：腹部无压痛。",
    "未登录字符：𠀀𡈽肺癌😀，<D>符号 <D> 与 # 号。",
    "。",
    "肺",
]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: list[Document]) -> CrfModel:
    words = ["占位", "复查", "病史", "口服", "右肺"]
    res = Resources(base_terms=[(t, e) for t, e, _ in builtin_terms()], words=words)
    out = tmp_path_factory.mktemp("fast") / "m"
    return train(tiny_corpus[:50], out, params=TrainParams(max_iterations=40, inner_folds=2), resources=res)


def _texts(tiny_corpus: list[Document]) -> list[str]:
    rng = random.Random(5)
    shuffled = []
    for doc in tiny_corpus[50:]:
        chars = list(doc.text)
        rng.shuffle(chars)  # unusual contexts: many unseen n-grams, odd label paths
        shuffled.append("".join(chars))
    return [d.text for d in tiny_corpus] + shuffled + EXTRA_TEXTS


def test_fast_labels_equal_crfsuite_labels(model: CrfModel, tiny_corpus: list[Document]) -> None:
    fast = model._fast
    for text in _texts(tiny_corpus):
        pieces = segments(text)
        ids = fast.attribute_ids(normalize(text))
        got = fast.tag(ids, np.array([a for a, _ in pieces], dtype=np.int64))
        feats = _doc_features(text, model._res, model._gaz)
        want: list[str] = []
        for a, b in pieces:
            want.extend(model._tagger.tag(feats[a:b]))
        assert [fast.labels[k] for k in got.tolist()] == want, text
        assert model.predict(text) == model.predict_crfsuite(text)


def test_attribute_ids_are_the_feature_strings(model: CrfModel) -> None:
    """Every attribute the fast path finds is one ``char_features`` writes at that position, and vice versa."""
    names = {int(i): a for a, i in model._tagger.info().attributes.items()}
    known = set(names.values())
    for text in EXTRA_TEXTS[:4]:
        ids = model._fast.attribute_ids(normalize(text))
        feats = char_features(text, _matchers(model._res, model._gaz))
        for row, f in zip(ids.tolist(), feats, strict=True):
            assert sorted(names[a] for a in row if a >= 0) == sorted(x for x in f if x in known)


def test_token_codes_pad_and_fold_digits() -> None:
    tok, cls = token_codes("A1肺")
    assert len(tok) == len(cls) == 3 + 6
    assert tok[:3].tolist() == [ord("#")] * 3
    assert tok[3] == ord("A") and tok[4] == 0x110000 and tok[5] == ord("肺")
    assert [chr(c) for c in cls[2:7].tolist()] == ["B", "L", "D", "H", "E"]


def test_split_tokens_reads_digit_tokens() -> None:
    assert _split_tokens("<D>肺", 2) == [0x110000, ord("肺")]
    assert _split_tokens("<D>", 3) == [ord("<"), ord("D"), ord(">")]
    assert _split_tokens("<D>", 1) == [0x110000]
    assert _split_tokens("ab", 3) is None
    assert {name for name, _ in CHAR_NGRAMS} >= {"c0", "b0", "t0"}


def test_matcher_finds_every_occurrence_in_automaton_order() -> None:
    terms = ["肺癌", "右肺", "右肺上叶", "上叶", "癌", "CT", "肺"]
    lex = Lexicon()
    lex.extend(((t, DISEASE) for t in terms), "builtin", min_len=1)
    lex.extend([("肺癌", DRUG)], "cmekg")
    matcher = DictMatcher(lex)
    text = normalize("右肺上叶肺癌，PCT与CT、ct示肺")
    want = []
    for end in range(1, len(text) + 1):
        for start in range(0, end):
            if text[start:end] in terms:
                want.append((start, end))
    want = [(s, e) for s, e in want if not (text[s:e] == "CT" and s > 0 and text[s - 1] == "P")]
    hits = matcher.raw_hits(text)
    assert [(h[0], h[1]) for h in hits] == sorted(want, key=lambda h: (h[1], h[0]))
    (lung_cancer,) = [h for h in hits if text[h[0] : h[1]] == "肺癌"]
    assert lung_cancer[2] == DISEASE and lung_cancer[5] == (DISEASE, DRUG)


def test_reloaded_model_predicts_the_same(model: CrfModel, tmp_path: Path) -> None:
    again = CrfModel.load(model.directory, resources=model._res)
    for text in EXTRA_TEXTS:
        assert again.predict(text) == model.predict(text)


def test_names_read_from_the_model_file_match_crfsuite(model: CrfModel) -> None:
    from medlake.nlp.fasttag import _read_header, _read_names

    path = model.directory / "model.crfsuite"
    data = path.read_bytes()
    header = _read_header(data, path)
    info = model._tagger.info()
    assert _read_names(data, header["labels"], path) == list(model._tagger.labels())
    attributes = _read_names(data, header["attrs"], path)
    assert {name: str(i) for i, name in enumerate(attributes)} == info.attributes


def test_not_a_model_file(tmp_path: Path) -> None:
    from medlake.errors import NlpModelError
    from medlake.nlp.fasttag import FastTagger

    bad = tmp_path / "model.crfsuite"
    bad.write_bytes(b"lCRF" + b"\0" * 60)
    with pytest.raises(NlpModelError, match="not a crfsuite"):
        FastTagger(bad, [])
