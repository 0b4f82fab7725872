"""EMR notes and their gold: offsets exact, identifiers annotated, facts consistent with the sources."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from medlake.errors import VocabularyError
from medlake.synth import SynthSummary
from medlake.synth.notes.textbuild import ASSERTIONS, ENTITY_TYPES, Doc, parse_template, phrasebook

NOTE_KEYS = [
    "doc_id",
    "patient_id",
    "visit_no",
    "doc_type",
    "doc_time",
    "title",
    "text",
    "author",
    "accession_no",
]
DOC_TYPES = {"入院记录", "出院小结", "手术记录", "病程记录", "病理报告", "影像报告"}


def test_note_shape(notes: list[dict[str, object]]) -> None:
    assert notes
    types = Counter(str(n["doc_type"]) for n in notes)
    assert set(types) <= DOC_TYPES
    assert {"入院记录", "出院小结", "病程记录", "影像报告"} <= set(types)
    for n in notes:
        assert list(n) == NOTE_KEYS
        assert (n["accession_no"] is not None) == (n["doc_type"] == "影像报告")


def test_every_span_matches_the_text(
    notes: list[dict[str, object]], gold: dict[str, dict[str, object]]
) -> None:
    assert set(gold) == {n["doc_id"] for n in notes}
    spans = 0
    for n in notes:
        g = gold[str(n["doc_id"])]
        text = str(n["text"])
        for key in ("entities", "times", "phi"):
            for span in g[key]:  # type: ignore[attr-defined]
                assert text[span["start"] : span["end"]] == span["text"], (n["doc_id"], span)
                spans += 1
        for e in g["entities"]:  # type: ignore[attr-defined]
            assert e["type"] in ENTITY_TYPES.values()
            assert e["assertion"] in ASSERTIONS.values()
        for t in g["times"]:  # type: ignore[attr-defined]
            date.fromisoformat(t["date"])
    assert spans > 1000


def test_identifiers_in_text_are_annotated(
    hospital: tuple[Path, SynthSummary], notes: list[dict[str, object]], gold: dict[str, dict[str, object]]
) -> None:
    rows = list(
        csv.reader(io.StringIO((hospital[0] / "his" / "patients.csv").read_text(encoding="utf-8-sig")))
    )[1:]
    people = {r[0]: r for r in rows}
    found = Counter()
    for n in notes:
        text = str(n["text"])
        person = people[str(n["patient_id"])]
        phi = gold[str(n["doc_id"])]["phi"]
        covered = {(p["start"], p["end"]) for p in phi}  # type: ignore[attr-defined]
        for value, kind in (
            (person[1], "NAME"),
            (person[4], "ID"),
            (person[5], "PHONE"),
            (person[6], "ADDRESS"),
        ):
            if not value:
                continue
            for m in re.finditer(re.escape(value), text):
                found[kind] += 1
                assert any(s <= m.start() and m.end() <= e for s, e in covered), (kind, value, n["doc_id"])
        # every 11-digit phone-like and 18-character id-like string is annotated
        for m in re.finditer(r"1\d{10}|\d{17}[\dX]", text):
            assert any(s <= m.start() and m.end() <= e for s, e in covered), (m.group(0), n["doc_id"])
    assert found["NAME"] > 20 and found["PHONE"] > 5 and found["ID"] > 5 and found["ADDRESS"] > 5


def test_negation_uncertainty_and_family_assertions_occur(gold: dict[str, dict[str, object]]) -> None:
    seen = Counter(e["assertion"] for g in gold.values() for e in g["entities"])  # type: ignore[attr-defined]
    assert seen["negated"] > 50
    assert seen["possible"] > 0
    assert seen["present"] > seen["negated"]


def test_diagnoses_carry_icd10_codes(gold: dict[str, dict[str, object]]) -> None:
    coded = [
        e
        for g in gold.values()
        for e in g["entities"]
        if e["type"] == "疾病和诊断" and e["assertion"] == "present"
    ]  # type: ignore[attr-defined]
    assert coded
    with_code = [e for e in coded if "code" in e]
    assert len(with_code) / len(coded) > 0.8
    assert all(re.fullmatch(r"[A-Z]\d{2}\.[0-9x]\d{2}", e["code"]) for e in with_code)


def test_lab_values_in_notes_have_units(gold: dict[str, dict[str, object]]) -> None:
    labs = [e for g in gold.values() for e in g["entities"] if e["type"] == "实验室检验" and "unit" in e]  # type: ignore[attr-defined]
    assert labs
    assert {"10^9/L", "g/L"} & {e["unit"] for e in labs}


def test_phrasebook_is_strict() -> None:
    assert len(phrasebook()) > 50
    with pytest.raises(VocabularyError):
        parse_template("否认[高血压|X|n]病史", "test")
    with pytest.raises(VocabularyError):
        parse_template("否认[高血压|D|z]病史", "test")
    with pytest.raises(VocabularyError):
        parse_template("unbalanced [bracket", "test")


def test_doc_builder_records_offsets() -> None:
    import random

    doc = Doc()
    doc.t("患者")
    doc.say(random.Random(0), "adm.past.infect")
    text = doc.text()
    assert doc.entities or "否认传染病史" in text
    for e in doc.entities:
        assert text[e["start"] : e["end"]] == e["text"]  # type: ignore[misc]
        assert e["assertion"] == "negated"
