"""The PII lexicons are parsed strictly and hold what the recognisers rely on."""

from __future__ import annotations

import pytest

from medlake.errors import VocabularyError
from medlake.privacy.lexicons import load_lexicons, parse_lines


def test_strict_lines() -> None:
    assert parse_lines("# comment\n王\n\n欧阳\n", "x") == ["王", "欧阳"]
    with pytest.raises(VocabularyError, match="x:2"):
        parse_lines("王\n王 李\n", "x")


def test_lexicon_contents() -> None:
    lex = load_lexicons()
    assert {"王", "李", "张"} <= lex.surnames and {"欧阳", "司马", "诸葛"} <= lex.compound_surnames
    assert "患者" in lex.context_words and "联系人" in lex.context_words
    # longest context words first, so 主刀医师 wins over 医师
    assert lex.context_words.index("主刀医师") < lex.context_words.index("医师")
    provinces = lex.provinces
    assert len(provinces) == 34 and "广西壮族自治区" in provinces
    assert lex.city_to_province()["杭州"] == "浙江省"
    assert "于" in lex.name_stopchars and "体" in lex.name_followers
