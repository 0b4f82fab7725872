"""Normalisation, lexicon parsing and dictionary matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from medlake.errors import LexiconError
from medlake.nlp.lexicon import Lexicon, build_lexicon, cmekg_terms, hospital_terms, parse_typed_tsv
from medlake.nlp.matcher import DictMatcher
from medlake.nlp.textnorm import Pieces, normalize
from medlake.nlp.types import DISEASE, DRUG, LAB


def test_normalize_keeps_length_and_folds_width_and_case() -> None:
    text = "ＣＴ示ab１２ 　x，ß"
    out = normalize(text)
    assert len(out) == len(text)
    assert out == "CT示AB12  X,ß"


def test_pieces_same_piece() -> None:
    p = Pieces("无发热，咳嗽。腹痛", frozenset("。"))
    assert p.same(0, 5)
    assert not p.same(0, 8)
    assert p.piece(8) == 1


def test_parse_typed_tsv_is_strict() -> None:
    rows = parse_typed_tsv("# c\n肺癌\t疾病和诊断\tC34\n阿司匹林\t药物\n", "x")
    assert rows == [("肺癌", DISEASE, "C34"), ("阿司匹林", DRUG, "")]
    with pytest.raises(LexiconError, match="x:1: unknown entity type"):
        parse_typed_tsv("肺癌\t疾病\n", "x")
    with pytest.raises(LexiconError, match="x:2: expected"):
        parse_typed_tsv("肺癌\t疾病和诊断\n肺癌\n", "x")


def test_hospital_dictionary_applies_without_retraining(tmp_path: Path) -> None:
    path = tmp_path / "hosp.tsv"
    path.write_text("小肠梗阻综合征XY\t疾病和诊断\tK56.999\n", "utf-8")
    assert hospital_terms(path) == [("小肠梗阻综合征XY", DISEASE, "K56.999")]
    lex = build_lexicon(use_cmekg=False, hospital_dict=path)
    hits = DictMatcher(lex).spans("诊断：小肠梗阻综合征XY。")
    assert [(h.start, h.end, h.type, h.source, h.code) for h in hits] == [
        (3, 12, DISEASE, "hospital", "K56.999")
    ]
    with pytest.raises(LexiconError):
        hospital_terms(tmp_path / "missing.tsv")


def test_matcher_prefers_longest_and_respects_latin_boundaries() -> None:
    lex = Lexicon()
    lex.add("CT", "影像检查", "builtin")
    lex.add("胸部CT", "影像检查", "builtin")
    lex.add("PCT", LAB, "builtin")
    lex.add("转移", DISEASE, "builtin")
    lex.add("肺转移", DISEASE, "builtin")
    m = DictMatcher(lex)
    text = "胸部CT示肺转移，PCT 0.5"
    got = [(text[h.start : h.end], h.type) for h in m.spans(text)]
    assert got == [("胸部CT", "影像检查"), ("肺转移", DISEASE), ("PCT", LAB)]
    assert [text[h.start : h.end] for h in m.spans("ABCT示")] == []


def test_empty_lexicon_matches_nothing() -> None:
    assert DictMatcher(Lexicon()).spans("肺癌") == []


def test_cmekg_terms_are_typed_plain_data() -> None:
    terms = cmekg_terms()
    if not terms:
        pytest.skip("PyCMeKG not installed")
    by_term = dict(terms)
    assert by_term.get("支气管肺癌") == DISEASE
    assert len({e for _, e in terms}) >= 5
    assert all(isinstance(t, str) and "、" not in t for t, _ in terms)
