"""Service functions (what the web calls) and the CLI: run, save, list, describe, sql."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medlake.cdm.lake import Lake
from medlake.cli import get_app
from medlake.cohort import characteristics, list_cohorts, load_file, patient_list, run_cohort, save_definition
from medlake.errors import InputFormatError, NotFound

EXAMPLE = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "medlake"
    / "cohort"
    / "examples"
    / "triple_positive_breast_cancer.json"
)


def test_run_writes_cohort_table_and_describes_it(tiny_lake: Lake) -> None:
    loaded = load_file(EXAMPLE, cohort_id=42)
    run_cohort(tiny_lake, loaded)
    con = tiny_lake.connect()
    rows = con.execute("SELECT subject_id FROM cohort WHERE cohort_definition_id = 42 ORDER BY 1").fetchall()
    assert rows == [(1,), (5,)]
    chars = characteristics(tiny_lake, 42, min_cell=1)
    assert chars["persons"] == 2
    assert chars["sex"] == [{"sex": "F", "persons": 2}]
    assert {"key": "C50.900", "label": "C50.900", "persons": 2} in chars["top_diagnoses"]
    hidden = characteristics(tiny_lake, 42)  # default small-cell suppression (< 5)
    assert all(i["persons"] is None for i in hidden["top_diagnoses"])
    plist = patient_list(tiny_lake, 42, limit=1)
    assert (
        plist["total"] == 2
        and plist["patients"][0]["person_id"] == 1
        and plist["patients"][0]["age_at_entry"] == 60
    )
    with pytest.raises(NotFound):
        characteristics(tiny_lake, 999)


def test_save_is_versioned_and_listed(tiny_lake: Lake) -> None:
    loaded = load_file(EXAMPLE)
    assert loaded.definition is not None
    path = save_definition(tiny_lake, loaded.definition)
    assert path.name == "v1.json"
    assert save_definition(tiny_lake, loaded.definition) == path  # same content: fine
    changed = loaded.definition.model_copy(update={"title": "changed"})
    with pytest.raises(InputFormatError):
        save_definition(tiny_lake, changed)
    run_cohort(tiny_lake, loaded)
    items = list_cohorts(tiny_lake)
    assert items[0]["id"] == "triple_positive_breast_cancer" and items[0]["last_run"]["persons"] == 2


def test_cli_cohort_run_json(tiny_lake: Lake) -> None:
    res = CliRunner().invoke(
        get_app(), ["cohort", "run", str(EXAMPLE), "--data-dir", str(tiny_lake.root), "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["persons"] == 2 and out["entries"] == 2
    assert [r["persons_passed"] for r in out["inclusion_rules"]] == [5, 4, 4, 4, 3]
    res = CliRunner().invoke(get_app(), ["cohort", "sql", str(EXAMPLE), "--dialect", "postgres"])
    assert res.exit_code == 0 and "CREATE TEMPORARY TABLE ml_cohort_rows" in res.output


def test_cli_rejects_non_definitions(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    res = CliRunner().invoke(get_app(), ["cohort", "run", str(bad), "--data-dir", str(tmp_path / "d")])
    assert res.exit_code != 0
