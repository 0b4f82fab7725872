"""Accuracy on real sentences of Yidu-S4K and CCKS 2017, annotated stand-off (offsets and labels only).

tests/nlp/data/realworld_gold.jsonl holds, per sentence, the corpus file, record, sentence span and
labels — never the text. The texts come from ../shared/data; the test skips when it is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

from medlake.nlp.standoff import score_standoff

GOLD = Path(__file__).parent / "data" / "realworld_gold.jsonl"


def test_gold_file_holds_no_text() -> None:
    lines = [json.loads(x) for x in GOLD.read_text("utf-8").splitlines() if x.strip()]
    assert len({(g["corpus"], str(g["record"]), tuple(g["sentence"])) for g in lines}) >= 150
    allowed = {"task", "corpus", "record", "sentence", "doc_date", "entities", "times", "values"}
    for g in lines:
        assert set(g) <= allowed
        for item in g.get("entities", []) + g.get("times", []) + g.get("values", []):
            assert all(not isinstance(x, str) or len(x) <= 12 for x in item)  # labels, dates, units only


def test_accuracy_on_real_sentences(shared_data: Path) -> None:
    result = score_standoff(GOLD, shared_data)
    assert result["assertion"]["items"] >= 200
    assert result["assertion"]["accuracy"] >= 0.93
    assert result["assertion"]["per_label"]["negated"]["accuracy"] >= 0.95
    assert result["time"]["accuracy"] >= 0.95
    assert result["value"]["accuracy"] >= 0.95
