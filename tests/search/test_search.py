"""Note search: query language, segment index kept up to date per note part, exact boolean results."""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medlake.cdm.lake import Lake
from medlake.cli import get_app
from medlake.errors import ValidationFailed
from medlake.search import NoteSearcher, parse_query, search_notes, update_index
from medlake.search import index as index_mod
from medlake.search.query import And, Node, Not, Or, Term
from medlake.search.text import fold

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


# -- segments, manifest and incremental updates -------------------------------------------------


def brute(notes: list[dict[str, Any]], tree: Node) -> set[int]:
    def match(n: Node, text: str) -> bool:
        if isinstance(n, Term):
            return n.text in text
        if isinstance(n, Not):
            return not match(n.item, text)
        if isinstance(n, Or):
            return any(match(i, text) for i in n.items)
        return all(match(i, text) for i in n.items)

    return {r["note_id"] for r in notes if match(tree, fold(r["note_text"]))}


def test_random_queries_agree_with_a_text_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_mod, "SEGMENT_ROWS", 70)  # several segments per part
    rng = random.Random(7)
    alphabet = "肺转移瘤结节未见双AaB 。"
    notes = [
        {
            "note_id": i,
            "person_id": i,
            "note_date": dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(60)) if i % 9 else None,
            "note_text": "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40))),
        }
        for i in range(1, 301)
    ]
    lk = Lake(tmp_path / "lake")
    with lk.transaction() as tx:
        tx.write("note", "p1", notes[:200])
        tx.write("note", "p2", notes[200:])
    sizes = []
    with NoteSearcher(lk) as s:
        assert len(s.segments) == 5
        for _ in range(150):
            terms = [
                "".join(rng.choice("肺转移瘤结节未见双AaB。") for _ in range(rng.randrange(1, 5)))
                for _ in range(3)
            ]
            q = rng.choice(["{0}", "{0} {1}", "{0} OR {1}", "{0} NOT {1}", "({0} OR {1}) -{2}", '"{0} {1}"'])
            q = q.format(*terms)
            tree = parse_query(q)
            want = brute(notes, tree)
            res = s.search(q, limit=500)
            assert res.total == len(want), q
            got = [h.note_id for h in res.hits]
            assert set(got) == want, q
            dates = {r["note_id"]: r["note_date"] for r in notes}
            expect = sorted(want, key=lambda i: (dates[i] is None, -(dates[i] or dt.date.min).toordinal(), i))
            assert got == expect, q
            page = s.search(q, limit=7, offset=5)
            assert [h.note_id for h in page.hits] == expect[5:12] and page.total == len(want)
            sizes.append(len(want))
    assert sum(0 < n < 300 for n in sizes) > 50  # the check is not vacuous


def test_phrases_never_run_across_notes(tmp_path: Path) -> None:
    lk = Lake(tmp_path / "lake")
    with lk.transaction() as tx:  # in result order: note 1 ends with 癌, note 2 starts with 肺转
        tx.write("note", "p", [note(1, "乳腺癌"), {**note(2, "肺转移"), "note_date": dt.date(2019, 1, 1)}])
    assert ids(lk, "癌 肺转") == [] and ids(lk, "癌肺") == [] and ids(lk, "肺转") == [2]


def test_folding_case_and_full_width(tmp_path: Path) -> None:
    lk = Lake(tmp_path / "lake")
    with lk.transaction() as tx:
        tx.write("note", "p", [note(1, "ＨＥＲ２阳性"), note(2, "her2\n阴性")])
    assert ids(lk, "her2") == [1, 2] and ids(lk, "HER2阳") == [1] and ids(lk, '"Her2 阴性"') == [2]
    hit = search_notes(lk, "her2阳性").hits[0]
    assert hit.snippet == "<mark>ＨＥＲ２阳性</mark>"


def test_reingest_and_duplicate_note_ids_do_not_duplicate(lake: Lake) -> None:
    assert search_notes(lake, "肺").total == 3
    with lake.transaction() as tx:  # the same source ingested again: the part is rewritten
        tx.write("note", "part-a", [note(i, TEXTS[i]) for i in (1, 2, 3)])
    assert update_index(lake).built == ["part-a"]
    assert search_notes(lake, "肺").total == 3
    time.sleep(0.01)
    with lake.transaction() as tx:  # note 1 again from another source, corrected: the newer copy wins
        tx.write("note", "part-z", [note(1, "右肺结节，考虑良性。")])
    res = search_notes(lake, "肺", limit=10)
    assert res.total == 3 and sorted(h.note_id for h in res.hits) == [1, 2, 3]
    assert ids(lake, "肺转移") == [] and ids(lake, "良性") == [1]
    with lake.transaction() as tx:
        tx.delete("note", "part-z")
    assert ids(lake, "肺转移") == [1]


def test_new_note_becomes_searchable(lake: Lake) -> None:
    assert search_notes(lake, "骨转移").total == 0
    with lake.transaction() as tx:
        tx.write("note", "part-new", [note(9, "全身骨显像：多发骨转移。")])
    res = search_notes(lake, "骨转移")  # search_notes brings the index up to date first
    assert res.total == 1 and res.hits[0].note_id == 9


def test_readers_do_not_block_the_updater(lake: Lake) -> None:
    update_index(lake)
    reader = NoteSearcher(lake, update=False)
    try:
        assert reader.search("转移").total == 2
        with lake.transaction() as tx:
            tx.write("note", "part-a", [note(1, "肝转移"), note(6, "淋巴结转移")])
        up = update_index(lake)  # the old index layout failed here with "locked"
        assert up.built == ["part-a"]
        on_disk = {p.name for p in (lake.root / "search" / "segments").iterdir()}
        assert any(seg.name not in on_disk for seg in reader.segments)  # its part-a segment was deleted
        assert reader.search("转移").total == 2  # the open reader keeps its snapshot
        assert [h.note_id for h in reader.search("双肺", limit=5).hits] == [2, 1]
    finally:
        reader.close()
    with NoteSearcher(lake, update=False) as fresh:
        assert fresh.search("转移").total == 2 and ids(lake, "淋巴结转移") == [6]


def test_update_skips_when_another_updater_runs(lake: Lake) -> None:
    with index_mod._update_lock(lake, wait=True):
        assert update_index(lake, wait=False).busy
        with NoteSearcher(lake) as s:  # a search does not wait for the running update either
            assert s.search("肺").total == 0
    assert not update_index(lake, wait=False).busy
    assert search_notes(lake, "肺").total == 3


def test_manifest_swap_and_cleanup(lake: Lake) -> None:
    update_index(lake)
    root = lake.root / "search"
    (root / "note_index.duckdb").write_bytes(b"old layout")
    first = json.loads((root / "manifest.json").read_text())
    with lake.transaction() as tx:
        tx.write("note", "part-b", [note(4, "高血压")])
    update_index(lake)
    second = json.loads((root / "manifest.json").read_text())
    assert second["generation"] == first["generation"] + 1
    assert second["parts"]["part-a"] == first["parts"]["part-a"]
    on_disk = {p.name for p in (root / "segments").iterdir()}
    assert on_disk == set(second["order"])  # the replaced segment was removed
    assert not (root / "note_index.duckdb").exists()
    assert not list(root.glob(".manifest.*"))
