"""The SQL is built from the typed model: values travel only as bound parameters."""

from __future__ import annotations

from pathlib import Path

from medlake.cdm.lake import Lake
from medlake.export.builder import build_dataset
from medlake.export.spec import DatasetSpec
from medlake.export.sql import patients_query, render
from tests.export.conftest import spec_dict

EVIL = "E11'); DROP TABLE person; --"


def test_user_values_never_in_sql() -> None:
    spec = DatasetSpec.model_validate(
        spec_dict(
            cohort={"kind": "filter", "condition_codes": [EVIL], "birth_year_min": 1900},
            variables=[{"type": "condition", "name": "x", "codes": [EVIL, "I10"]}],
        )
    )
    q = patients_query(spec)
    sql = render(q)
    assert "DROP TABLE" not in sql and "I10" not in sql and "1900" not in sql
    assert EVIL in [c for v in q.params.values() if isinstance(v, list) for c in v]


def test_hostile_codes_are_just_codes(tiny_lake: Path) -> None:
    spec = DatasetSpec.model_validate(
        spec_dict(variables=[{"type": "condition", "name": "x", "codes": [EVIL]}], notes=None)
    )
    con = Lake(tiny_lake).connect()
    built = build_dataset(spec, con)
    assert built.tables["patients"].num_rows == 60
    assert not any(built.tables["patients"].column("x").to_pylist())
    assert con.execute("SELECT count(*) FROM person").fetchone() == (60,)
