"""ConText assertions on Chinese sentences, and strict parsing of the rule file."""

from __future__ import annotations

import pytest

from medlake.errors import LexiconError
from medlake.nlp.context import ConText, default_rules, parse_rules


@pytest.fixture(scope="module")
def ctx() -> ConText:
    return ConText()


def _assert(ctx: ConText, text: str, term: str, occurrence: int = 0) -> str:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(term, start + 1)
    return ctx.assert_spans(text, [(start, start + len(term))])[0][0]


@pytest.mark.parametrize(
    ("text", "term", "expected"),
    [
        ("双肺多发结节，考虑转移。", "转移", "possible"),
        ("双肺多发结节，考虑转移。", "结节", "present"),
        ("患者无发热、咳嗽。", "咳嗽", "negated"),
        ("患者无发热，咳嗽2天。", "咳嗽", "present"),
        ("否认高血压、糖尿病病史。", "糖尿病", "negated"),
        ("未见明显肿大淋巴结。", "淋巴结", "negated"),
        ("无明显诱因出现腹痛。", "腹痛", "present"),
        ("肝转移待排。", "肝转移", "possible"),
        ("既往有高血压病史10年。", "高血压", "historical"),
        ("其父有肺癌。", "肺癌", "family"),
        ("如出现发热及时就诊。", "发热", "hypothetical"),
        ("不排除肺癌可能。", "肺癌", "possible"),
        ("排除肺癌。", "肺癌", "negated"),
        ("无发热，但有咳嗽。", "咳嗽", "present"),
        ("直肠癌术后。", "直肠癌", "historical"),
        ("无腹痛腹胀，不伴恶心呕吐。", "呕吐", "negated"),
    ],
)
def test_assertion(ctx: ConText, text: str, term: str, expected: str) -> None:
    assert _assert(ctx, text, term) == expected


def test_negation_beats_history_and_modifiers_are_listed(ctx: ConText) -> None:
    text = "既往否认肝炎病史。"
    s = text.index("肝炎")
    assertion, mods = ctx.assert_spans(text, [(s, s + 2)])[0]
    assert assertion == "negated"
    assert mods == ["negated", "historical"]


def test_default_rules_cover_all_categories() -> None:
    cats = {r.category for r in default_rules()}
    assert cats == {"NEGATED", "POSSIBLE", "HISTORICAL", "FAMILY", "HYPOTHETICAL", "PSEUDO", "TERMINATE"}


def test_rules_are_parsed_strictly() -> None:
    header = "trigger\tcategory\tdirection\tscope\n"
    assert parse_rules(header + "无\tNEGATED\tforward\tclause\n")[0].category == "NEGATED"
    with pytest.raises(LexiconError, match="header"):
        parse_rules("无\tNEGATED\tforward\tclause\n")
    with pytest.raises(LexiconError, match="unknown category"):
        parse_rules(header + "无\tNEG\tforward\tclause\n")
    with pytest.raises(LexiconError, match="unknown direction"):
        parse_rules(header + "无\tNEGATED\tleft\tclause\n")
    with pytest.raises(LexiconError, match="direction none"):
        parse_rules(header + "但\tTERMINATE\tforward\tclause\n")
    with pytest.raises(LexiconError, match="4 tab-separated"):
        parse_rules(header + "无\tNEGATED\tforward\n")
