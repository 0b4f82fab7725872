from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from medlake.cdm import Lake, stable_id, stable_id_sql
from medlake.cdm.lake import conform
from medlake.cdm.schema import TABLES, arrow_schema, cdm_tables
from medlake.errors import SchemaError


def test_every_clinical_table_has_lineage_columns() -> None:
    clinical = [t for t in TABLES.values() if t.clinical]
    assert {"person", "measurement", "note", "image_occurrence"} <= {t.name for t in clinical}
    for t in clinical:
        assert t.column_names[-3:] == ["src_system", "src_file", "src_record"], t.name


def test_required_omop_tables_exist() -> None:
    required = {
        "person",
        "observation_period",
        "visit_occurrence",
        "visit_detail",
        "condition_occurrence",
        "drug_exposure",
        "procedure_occurrence",
        "measurement",
        "observation",
        "death",
        "note",
        "note_nlp",
        "location",
        "care_site",
        "provider",
        "concept",
        "concept_relationship",
        "concept_ancestor",
        "vocabulary",
        "image_occurrence",
        "person_link",
    }
    assert required <= set(cdm_tables())


def test_stable_id_agrees_between_python_and_duckdb() -> None:
    con = duckdb.connect()
    for key in ["H001", "患者-12", "", "x" * 300]:
        sql_value = con.execute(f"SELECT {stable_id_sql('person', '$k')}", {"k": key}).fetchone()
        assert sql_value is not None
        assert sql_value[0] == stable_id("person", key)
        assert 0 <= sql_value[0] < 2**63
    assert stable_id("person", "a") != stable_id("visit", "a")


def test_empty_lake_has_typed_empty_views(data_dir: Path) -> None:
    lake = Lake(data_dir).ensure()
    con = lake.connect()
    assert con.execute("SELECT count(*) FROM person").fetchone() == (0,)
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name='person'"
        ).fetchall()
    )
    assert types["person_id"] == "BIGINT" and types["birth_datetime"] == "TIMESTAMP"
    # the on-disk catalog exists and opens read-only
    assert duckdb.connect(str(lake.catalog_path), read_only=True).execute(
        "SELECT count(*) FROM note"
    ).fetchone() == (0,)


def test_part_replacement_and_rollback(data_dir: Path) -> None:
    lake = Lake(data_dir)
    with lake.transaction() as tx:
        tx.write("person", "his:a.csv", [{"person_id": 1}, {"person_id": 2}])
        tx.write("person", "his:b.csv", [{"person_id": 3}])
    assert lake.count("person") == 3
    with lake.transaction() as tx:  # a new version of a.csv replaces its part
        tx.write("person", "his:a.csv", [{"person_id": 1}])
    assert sorted(r[0] for r in lake.connect().execute("SELECT person_id FROM person").fetchall()) == [1, 3]
    with pytest.raises(RuntimeError), lake.transaction() as tx:
        tx.write("person", "his:c.csv", [{"person_id": 9}])
        raise RuntimeError("crash mid-way")
    assert lake.count("person") == 2
    assert not [p for p in (lake.lake_dir / "person").iterdir() if p.name.startswith(".tmp")]


def test_conform_rejects_unknown_columns_and_fills_missing() -> None:
    with pytest.raises(SchemaError, match="not in the person schema"):
        conform("person", [{"person_id": 1, "persn_name": "typo"}])
    t = conform("person", pa.table({"person_id": [1]}))
    assert t.schema == arrow_schema("person")
    assert t.column("year_of_birth").null_count == 1


def test_rows_with_different_keys_keep_every_column(data_dir: Path) -> None:
    lake = Lake(data_dir)
    with lake.transaction() as tx:
        tx.write("person", "p", [{"person_id": 1}, {"person_id": 2, "year_of_birth": 1980}])
    rows = lake.connect().execute("SELECT person_id, year_of_birth FROM person ORDER BY 1").fetchall()
    assert rows == [(1, None), (2, 1980)]
