"""`medlake nlp run` into a real lake: note_nlp, derived facts, incremental re-runs, workers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from medlake.cdm.lake import Lake
from medlake.cli import nlp_cmds
from medlake.nlp.lake_run import run
from medlake.nlp.pipeline import Pipeline

NOTES = [
    (1, 101, date(2021, 7, 1), "胸部CT：双肺多发结节，考虑转移。无发热。HGB 98g/L。"),
    (
        2,
        101,
        date(2021, 7, 2),
        "否认高血压病史，其父有糖尿病。2021年6月10日行直肠癌根治术，术后给予奥沙利铂。",
    ),
    (3, 102, date(2021, 7, 3), "患者一般情况可。"),
]


def _write_notes(lake: Lake, rows: list[tuple[int, int, date, str]], part: str) -> None:
    with lake.transaction() as tx:
        tx.write(
            "note",
            part,
            [
                {
                    "note_id": i,
                    "person_id": p,
                    "note_date": d,
                    "note_text": t,
                    "visit_occurrence_id": 1000 + i,
                    "src_system": "EMR",
                }
                for i, p, d, t in rows
            ],
        )


def test_run_writes_note_nlp_and_facts_incrementally(data_dir: Path, pipeline: Pipeline) -> None:
    lake = Lake(data_dir).ensure()
    _write_notes(lake, NOTES[:2], "notes-a")
    stats = run(lake, pipeline, workers=1)
    assert (stats.notes_processed, stats.notes_skipped) == (2, 0)
    con = lake.connect()
    rows = con.execute(
        'SELECT note_id, lexical_variant, entity_type, assertion, term_exists, concept_code, "offset", person_id '
        "FROM note_nlp ORDER BY note_id, offset_start"
    ).fetchall()
    by_text = {r[1]: r for r in rows}
    assert by_text["转移"][2:6] == ("疾病和诊断", "possible", "Y", "C78.001")
    assert by_text["发热"][3:5] == ("negated", "N")
    assert by_text["HGB"][5] == "LAB:HGB"
    assert all(r[7] == 101 for r in rows)
    cond = {
        r[0]: r
        for r in con.execute(
            "SELECT condition_source_value, condition_status_source_value, condition_start_date, src_system, person_id "
            "FROM condition_occurrence"
        ).fetchall()
    }
    assert cond["C78.001"][1:] == ("possible", date(2021, 7, 1), "NLP", 101)
    assert "I10xx11" not in cond  # negated
    assert "E14.901" not in cond  # family history
    meas = con.execute(
        "SELECT measurement_source_value, value_as_number, unit_source_value, unit_ucum FROM measurement"
    ).fetchall()
    assert ("LAB:HGB", 98.0, "g/L", "g/L") in meas
    proc = con.execute("SELECT procedure_source_value, procedure_date FROM procedure_occurrence").fetchall()
    assert ("直肠癌根治术", date(2021, 6, 10)) in proc
    drugs = [r[0] for r in con.execute("SELECT drug_source_value FROM drug_exposure").fetchall()]
    assert drugs == ["奥沙利铂"]
    n_nlp = con.execute("SELECT count(*) FROM note_nlp").fetchone()[0]  # type: ignore[index]
    con.close()

    again = run(lake, pipeline, workers=1)
    assert (again.notes_processed, again.notes_skipped) == (0, 2)
    _write_notes(lake, NOTES[2:], "notes-b")
    third = run(lake, pipeline, workers=2)
    assert (third.notes_processed, third.notes_skipped) == (1, 2)
    con = lake.connect()
    assert con.execute("SELECT count(*) FROM note_nlp").fetchone()[0] == n_nlp  # type: ignore[index]
    assert con.execute("SELECT count(DISTINCT note_id) FROM _nlp_processed").fetchone()[0] == 3  # type: ignore[index]
    con.close()


def test_parallel_run_matches_serial(tmp_path: Path, pipeline: Pipeline) -> None:
    results = []
    for workers in (1, 2):
        lake = Lake(tmp_path / f"w{workers}").ensure()
        _write_notes(lake, NOTES, "notes")
        run(lake, pipeline, workers=workers, batch_size=2)
        con = lake.connect()
        results.append(
            con.execute("SELECT note_nlp_id, lexical_variant, assertion FROM note_nlp ORDER BY 1").fetchall()
        )
        con.close()
    assert results[0] == results[1] and results[0]


@pytest.fixture(scope="module")
def cli() -> typer.Typer:
    app = typer.Typer()
    nlp_cmds.register(app)

    @app.callback()
    def _root() -> None:
        pass

    return app


def test_cli_run_json(cli: typer.Typer, data_dir: Path, code_table: Path) -> None:
    lake = Lake(data_dir).ensure()
    _write_notes(lake, NOTES, "notes")
    r = CliRunner().invoke(
        cli,
        [
            "nlp",
            "run",
            "--data-dir",
            str(data_dir),
            "--code-table",
            str(code_table),
            "--workers",
            "1",
            "--no-cmekg",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert '"notes_processed": 3' in r.output
