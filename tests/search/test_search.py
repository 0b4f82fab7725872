"""Note search: query language, bigram index kept up to date per note part, exact boolean results."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medlake.cdm.lake import Lake
from medlake.cli import get_app
from medlake.errors import ValidationFailed
from medlake.search import NoteSearcher, parse_query, search_notes, update_index
from medlake.search.query import And, Not, Or, Term

TEXTS = {
    1: "双肺多发结节，考虑肺转移瘤，请结合临床。",
    2: "双肺未见明显异常。无转移。",
    3: "Patient has HER2 positive 肺 disease",
    4: "既往高血压病史10年，否认糖尿病史。",
    5: "诊断：乳腺癌（三阳性），ER、PR、HER2均阳性。",
}


def note(i: int, text: str) -> dict[str, Any]:
    return {
        "note_id": i,
        "person_id": i * 10,
        "note_date": dt.date(2020, 1, i),
        "note_text": text,
        "note_source_value": "影像报告",
        "note_title": "t",
    }


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lk = Lake(tmp_path / "lake")
    with lk.transaction() as tx:
        tx.write("note", "part-a", [note(i, TEXTS[i]) for i in (1, 2, 3)])
        tx.write("note", "part-b", [note(i, TEXTS[i]) for i in (4, 5)])
    return lk


def ids(lake: Lake, q: str) -> list[int]:
    return sorted(h.note_id for h in search_notes(lake, q, limit=100).hits)


def test_parser() -> None:
    assert parse_query('肺转移 OR "her2 positive" -未见') == Or(
        (Term("肺转移"), And((Term("her2 positive"), Not(Term("未见")))))
    )
    assert parse_query("(a OR b) AND c") == And((Or((Term("a"), Term("b"))), Term("c")))
    for bad in ["", "NOT 肺", "(肺", "肺 OR", '""']:
        with pytest.raises(ValidationFailed):
            parse_query(bad)


def test_phrases_and_boolean_operators(lake: Lake) -> None:
    assert ids(lake, "肺转移") == [1]
    assert ids(lake, "转移") == [1, 2]
    assert ids(lake, "转移 NOT 未见") == [1]
    assert ids(lake, "肺 OR 高血压") == [1, 2, 3, 4]
    assert ids(lake, '"HER2 positive"') == [3]  # case-insensitive, with a space inside
    assert ids(lake, "her2 阳性") == [5]
    assert ids(lake, "(双肺 OR her2) -考虑") == [2, 3, 5]
    assert ids(lake, "肺移") == []  # all bigrams absent
    assert ids(lake, "异常转") == []  # bigrams present in note 2 ("异常", "常。"...) but not the phrase
    assert ids(lake, "。") == [1, 2, 4, 5]  # single characters, including a text's last one


def test_snippets_highlight_matches(lake: Lake) -> None:
    res = search_notes(lake, "转移 结节")
    hit = next(h for h in res.hits if h.note_id == 1)
    assert "<mark>结节</mark>" in hit.snippet and "<mark>转移</mark>" in hit.snippet
    assert res.total == 1 and hit.person_id == 10 and hit.note_date == "2020-01-01"
    s = NoteSearcher(lake, update=False)
    try:
        page = s.search("肺", limit=1, offset=1)
    finally:
        s.close()
    assert page.total == 3 and len(page.hits) == 1


def test_index_follows_incremental_ingestion(lake: Lake) -> None:
    up = update_index(lake)
    assert sorted(up.built) == ["part-a", "part-b"]
    assert update_index(lake).unchanged == 2
    with lake.transaction() as tx:  # a changed part and a new one
        tx.write("note", "part-a", [note(1, "右肺下叶结节，考虑肺转移瘤。"), note(6, "肺转移复查")])
        tx.write("note", "part-c", [note(7, "肝转移待排")])
    up = update_index(lake)
    assert sorted(up.built) == ["part-a", "part-c"] and up.unchanged == 1
    assert ids(lake, "肺转移") == [1, 6]
    assert ids(lake, "转移") == [1, 6, 7]
    with lake.transaction() as tx:
        tx.delete("note", "part-c")
    assert update_index(lake).removed == ["part-c"]
    assert ids(lake, "转移") == [1, 6]


def test_cli_search_json(lake: Lake) -> None:
    res = CliRunner().invoke(get_app(), ["search", "notes", "肺转移", "--data-dir", str(lake.root), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["total"] == 1 and out["hits"][0]["note_id"] == 1
    res = CliRunner().invoke(get_app(), ["search", "notes", "NOT 肺", "--data-dir", str(lake.root)])
    assert res.exit_code != 0


def test_empty_lake(tmp_path: Path) -> None:
    assert search_notes(Lake(tmp_path / "empty"), "肺").total == 0
