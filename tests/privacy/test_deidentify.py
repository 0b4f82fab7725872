"""Applying a plan to tables: suppression, pseudonyms, per-person date shifts across tables, k-anonymity."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pyarrow as pa
import pytest

from medlake.errors import DeidentificationError
from medlake.privacy.actions import ColumnRule
from medlake.privacy.deidentify import Deidentifier, TableInput
from medlake.privacy.keys import ProjectKey
from medlake.privacy.scrubber import PatientContext

KEY = ProjectKey(b"0123456789abcdef0123456789abcdef")


def _tables(n: int = 50) -> dict[str, TableInput]:
    rng = random.Random(1)
    persons = list(range(1, n + 1))
    idx = [date(2022, 1, 1) + timedelta(days=rng.randint(0, 300)) for _ in persons]
    patients = pa.table(
        {
            "person_id": persons,
            "index_date": idx,
            "age": [rng.randint(20, 95) for _ in persons],
            "sex": [rng.choice("男女") for _ in persons],
            "name": [f"患者{i}" for i in persons],
        }
    )
    plan = {
        "person_id": ColumnRule(action="pseudonymise"),
        "index_date": ColumnRule(action="shift_date"),
        "age": ColumnRule(action="generalise", method="age_band", quasi_identifier=True),
        "sex": ColumnRule(action="keep", quasi_identifier=True),
        "name": ColumnRule(action="suppress"),
    }
    kinds = {"person_id": "person_key", "index_date": "date", "age": "age", "sex": "sex", "name": "name"}
    notes = pa.table(
        {
            "person_id": persons,
            "note_date": idx,
            "note_text": [f"张三于{d:%Y-%m-%d}入院" for d in idx],
        }
    )
    nplan = {
        "person_id": ColumnRule(action="pseudonymise"),
        "note_date": ColumnRule(action="shift_date"),
        "note_text": ColumnRule(action="scrub"),
    }
    return {
        "patients": TableInput(patients, kinds, plan),
        "notes": TableInput(
            notes, {"person_id": "person_key", "note_date": "date", "note_text": "text"}, nplan, ["note_text"]
        ),
    }


def test_plan_applied_consistently_across_tables() -> None:
    tables = _tables()
    ctx = {i: PatientContext(names={"张三"}) for i in range(1, 51)}
    out, report = Deidentifier(KEY).run(tables, main="patients", k=5, contexts=ctx)
    p, n = out["patients"], out["notes"]
    assert "name" not in p.column_names
    assert all(v.startswith("p") for v in p.column("person_id").to_pylist())
    # the same person is shifted by the same offset in both tables and in the note text
    by_person = dict(zip(p.column("person_id").to_pylist(), p.column("index_date").to_pylist(), strict=True))
    for pid, d, text in zip(
        *(n.column(c).to_pylist() for c in ("person_id", "note_date", "note_text")), strict=True
    ):
        assert by_person[pid] == d
        assert text == f"[姓名]于{d:%Y-%m-%d}入院"
    orig = dict(
        zip(
            tables["patients"].table.column("person_id").to_pylist(),
            tables["patients"].table.column("index_date").to_pylist(),
            strict=True,
        )
    )
    assert any(KEY.pseudonym(i) in by_person and by_person[KEY.pseudonym(i)] != orig[i] for i in orig)
    assert report.kanon is not None and report.kanon.smallest_class >= 5
    assert n.num_rows == p.num_rows == 50 - report.persons_suppressed
    assert report.columns["patients"]["name"]["action"] == "suppress"


def test_column_without_action_refused() -> None:
    tables = _tables()
    tables["patients"].plan.pop("sex")
    with pytest.raises(DeidentificationError, match="sex"):
        Deidentifier(KEY).run(tables, main="patients")


def test_scrub_only_on_text_and_shift_only_on_dates() -> None:
    tables = _tables()
    tables["patients"].plan["sex"] = ColumnRule(action="scrub")
    with pytest.raises(DeidentificationError, match="free text"):
        Deidentifier(KEY).run(tables, main="patients")
    tables = _tables()
    tables["patients"].plan["sex"] = ColumnRule(action="shift_date")
    with pytest.raises(DeidentificationError, match="date"):
        Deidentifier(KEY).run(tables, main="patients")
