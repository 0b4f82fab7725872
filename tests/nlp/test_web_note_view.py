"""The web note view: a note with its entities highlighted, its facts, permissions and audit."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from medlake.cdm import Lake
from medlake.nlp.note_view import Mark, highlight, marks
from medlake.settings import Settings
from medlake.store.engine import dispose_engine, session_factory
from medlake.store.models import AuditEntry
from medlake.web.app import create_app
from medlake.web.services.demo import create_demo_accounts
from tests.web.conftest import PASSWORD, cheap_argon2, login

__all__ = ["cheap_argon2"]  # the web suite's fast-argon2 fixture, applied here too

TEXT = "既往高血压病史，否认糖尿病，可能肺炎，母亲有肺癌。胸部CT示右肺上叶结节。血压<140。"
NOTE_ID = 501
BARE_NOTE_ID = 502
PERSON = 7001


def _ent(i: int, text: str, etype: str, assertion: str, at: int = 0, **extra: Any) -> dict[str, Any]:
    start = TEXT.index(text, at)
    return {
        "note_nlp_id": 9000 + i,
        "note_id": NOTE_ID,
        "person_id": PERSON,
        "offset": f"{start}-{start + len(text)}",
        "offset_start": start,
        "offset_end": start + len(text),
        "lexical_variant": text,
        "entity_type": etype,
        "assertion": assertion,
        "term_exists": "N" if assertion in ("negated", "family") else "Y",
        "nlp_system": "medlake-nlp",
        "src_system": "NLP",
        # every row has every key: Lake.write takes a list's columns from its first row
        "concept_code": None,
        "concept_name": None,
        "value_as_number": None,
        "value_text": None,
        "unit": None,
        "term_modifiers": None,
        **extra,
    }


ENTITIES = [
    _ent(
        1,
        "高血压",
        "疾病和诊断",
        "historical",
        concept_code="I10",
        concept_name="高血压",
        term_modifiers="assertion=historical;modifiers=慢性,重度;type=疾病和诊断;source=dict",
    ),
    _ent(2, "糖尿病", "疾病和诊断", "negated", concept_code="E14"),
    _ent(3, "肺炎", "疾病和诊断", "possible"),
    _ent(4, "肺癌", "疾病和诊断", "family"),
    _ent(5, "胸部CT", "影像检查", "present"),
    _ent(6, "右肺上叶结节", "疾病和诊断", "present"),
    _ent(7, "右肺上叶", "解剖部位", "present"),  # inside the entity above
    _ent(
        8,
        "血压",
        "实验室检验",
        "present",
        TEXT.index("。血压"),
        value_as_number=140.0,
        value_text="140",
        unit="mmHg",
    ),
]


def _build_lake(data_dir: Path) -> None:
    with Lake(data_dir).transaction() as tx:
        tx.write(
            "person",
            "his",
            [{"person_id": PERSON, "gender_source_value": "1", "year_of_birth": 1960, "src_system": "HIS"}],
        )
        note = {"person_id": PERSON, "note_date": date(2024, 5, 6), "src_system": "EMR"}
        tx.write(
            "note",
            "emr",
            [
                note
                | {
                    "note_id": NOTE_ID,
                    "note_title": "入院记录",
                    "note_text": TEXT,
                    "note_source_value": "入院记录",
                },
                note | {"note_id": BARE_NOTE_ID, "note_title": "病程记录", "note_text": "一般情况可。"},
            ],
        )
        tx.write("note_nlp", "nlp-test", ENTITIES)
        tx.write(
            "condition_occurrence",
            "nlp-test",
            [
                {
                    "condition_occurrence_id": 1,
                    "person_id": PERSON,
                    "condition_start_date": date(2024, 5, 6),
                    "condition_source_value": "I10",
                    "condition_status_source_value": "historical",
                    "src_system": "NLP",
                    "src_file": f"note:{NOTE_ID}",
                    "src_record": "k1",
                },
                {  # another note's fact: not shown
                    "condition_occurrence_id": 2,
                    "person_id": PERSON,
                    "condition_source_value": "J18",
                    "src_system": "NLP",
                    "src_file": "note:999",
                    "src_record": "k2",
                },
            ],
        )


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, cheap_argon2: None) -> Iterator[Settings]:
    data_dir = tmp_path_factory.mktemp("noteview") / "medlake-data"
    data_dir.mkdir()
    _build_lake(data_dir)
    s = Settings(data_dir=data_dir, env="test")
    create_demo_accounts(s, password=PASSWORD)
    yield s
    dispose_engine(s)


@pytest.fixture(scope="module")
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def _mark_of(page: str, text: str) -> str:
    found = re.search(r'<mark class="([^"]+)"[^>]*>' + re.escape(text) + "</mark>", page)
    assert found, text
    return found.group(1)


def test_page_highlights_entities_by_type_and_assertion(client: TestClient) -> None:
    login(client, "clinician")
    page = client.get(f"/notes/{NOTE_ID}")
    assert page.status_code == 200
    body = page.text.split('id="note-text">', 1)[1].split("</div>", 1)[0]
    assert _mark_of(body, "糖尿病") == "ent ent-DIS assert-negated"
    assert _mark_of(body, "肺炎") == "ent ent-DIS assert-possible"
    assert _mark_of(body, "胸部CT") == "ent ent-IMG assert-present"
    assert _mark_of(body, "140") == "ent ent-VAL"
    assert '<sup class="badge assert-family">家族史</sup>' in body
    # the anatomy span inside the finding: innermost type drawn, marked as overlapping
    assert _mark_of(body, "右肺上叶") == "ent ent-ANAT assert-present overlap"
    assert _mark_of(body, "结节") == "ent ent-DIS assert-present"
    assert 'title="疾病和诊断 · historical · 慢性 · 重度 · I10"' in body
    assert '<span class="modifier">重度</span>' in page.text
    assert "&lt;" in body and "<140" not in body
    assert re.sub(r"<sup[^>]*>.*?</sup>|<[^>]+>", "", body).replace("&lt;", "<") == TEXT
    assert "入院记录" in page.text and "EMR" in page.text and "2024-05-06" in page.text
    facts = page.text.split('id="facts"', 1)[1]
    assert "I10" in facts and "J18" not in facts
    assert 'id="no-nlp"' not in page.text


def test_page_in_english_and_without_nlp_rows(client: TestClient) -> None:
    login(client, "clinician")
    page = client.get(f"/notes/{NOTE_ID}", params={"lang": "en"})
    assert "Facts derived from this note" in page.text and ">negated</span>" in page.text
    bare = client.get(f"/notes/{BARE_NOTE_ID}")
    assert bare.status_code == 200 and 'id="no-nlp"' in bare.text and "medlake nlp run" in bare.text
    assert client.get("/notes/123456").status_code == 404


def test_api_returns_entities_and_facts(client: TestClient) -> None:
    login(client, "admin")
    data = client.get(f"/api/v1/notes/{NOTE_ID}/annotations").json()
    assert data["note"]["note_id"] == NOTE_ID and data["note"]["text"] == TEXT
    by_text = {e["text"]: e for e in data["entities"]}
    assert set(by_text) == {e["lexical_variant"] for e in ENTITIES}
    assert by_text["糖尿病"]["assertion"] == "negated" and by_text["糖尿病"]["concept_code"] == "E14"
    assert TEXT[by_text["肺炎"]["start"] : by_text["肺炎"]["end"]] == "肺炎"
    assert [f["code"] for f in data["facts"]] == ["I10"]


def test_researcher_is_refused_and_views_are_audited(client: TestClient, settings: Settings) -> None:
    assert client.get(f"/api/v1/notes/{NOTE_ID}/annotations").status_code == 401
    login(client, "researcher")
    assert client.get(f"/notes/{NOTE_ID}").status_code == 403
    assert client.get(f"/api/v1/notes/{NOTE_ID}/annotations").status_code == 403
    login(client, "clinician")
    assert client.get(f"/notes/{NOTE_ID}").status_code == 200
    with session_factory(settings)() as s:
        entries = s.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(3)).scalars().all()
    view = entries[0]
    assert view.actor == "clinician" and view.action == "patient.view" and view.object == f"person:{PERSON}"
    assert json.loads(view.details) == {"note_id": NOTE_ID, "entities": len(ENTITIES)}
    denied = [e for e in entries if e.action == "access.denied"]
    assert denied and denied[0].actor == "researcher"


def test_timeline_links_notes_to_the_note_view(client: TestClient) -> None:
    login(client, "clinician")
    page = client.get(f"/patients/{PERSON}")
    assert f'href="/notes/{NOTE_ID}"' in page.text and f'href="/notes/{BARE_NOTE_ID}"' in page.text


def test_highlight_segments_overlapping_adjacent_and_bad_spans() -> None:
    text = "abcdef<g>"
    spans = [
        Mark(0, 4, "ent ent-DIS assert-present", "x"),
        Mark(2, 5, "ent ent-SYM assert-present", "y"),  # overlaps the first
        Mark(5, 9, "ent ent-LAB assert-present", "z"),  # adjacent to the second
    ]
    html = str(highlight(text, spans))
    assert html.count("<mark") == html.count("</mark>") == 4  # ab | cd (both) | e | f<g>
    assert 'class="ent ent-SYM assert-present overlap" data-start="2" data-end="5"' in html  # shorter wins
    assert "ent-DIS assert-present overlap" not in html
    assert (
        '<mark class="ent ent-LAB assert-present" data-start="5" data-end="9" title="z">f&lt;g&gt;</mark>'
        in html
    )
    assert re.sub(r"<[^>]+>", "", html) == "abcdef&lt;g&gt;"
    entities: list[dict[str, Any]] = [
        {"start": 3, "end": 2, "entity_type": "药物"},  # reversed
        {"start": 0, "end": 99, "entity_type": "药物"},  # past the end
        {"start": None, "end": None, "entity_type": "药物"},
        {"start": 0, "end": 1, "entity_type": "未知", "assertion": "family"},
    ]
    got = marks(text, entities, {"family": "F"})
    assert got == [Mark(0, 1, "ent ent-OTHER assert-family", "未知 · family", "F")]
    assert str(highlight(text, got)).startswith('<mark class="ent ent-OTHER assert-family"')
    assert '<sup class="badge assert-family">F</sup>' in str(highlight(text, got))
