from __future__ import annotations

from pathlib import Path

import pytest

from medlake.cdm import Lake
from medlake.cdm.schema import LOCAL_CONCEPT_ID_START
from medlake.cdm.vocab import ConceptRegistry, load_code_table
from medlake.errors import VocabularyError

TABLE = 'code,disease\nA15,呼吸道结核\nA15.0,"肺结核,经显微镜下痰检查证实"\nA15.010,继发性肺结核涂阳\nE11,2型糖尿病\n'


def test_load_code_table_assigns_local_ids_and_hierarchy(tmp_path: Path, data_dir: Path) -> None:
    f = tmp_path / "icd.csv"
    f.write_text("\ufeff" + TABLE, encoding="utf-8")
    lake = Lake(data_dir)
    out = load_code_table(lake, f, vocabulary="ICD10CN")
    assert out["concepts"] == 4 and out["new"] == 4
    con = lake.connect()
    ids = dict(con.execute("SELECT concept_code, concept_id FROM concept").fetchall())
    assert min(ids.values()) >= LOCAL_CONCEPT_ID_START
    anc = con.execute(
        "SELECT min_levels_of_separation FROM concept_ancestor WHERE ancestor_concept_id=? AND descendant_concept_id=?",
        [ids["A15"], ids["A15.010"]],
    ).fetchone()
    assert anc == (2,)
    # re-loading keeps the ids
    load_code_table(lake, f, vocabulary="ICD10CN")
    assert dict(lake.connect().execute("SELECT concept_code, concept_id FROM concept").fetchall()) == ids


def test_auto_registered_codes_keep_their_id_when_the_table_is_loaded(tmp_path: Path, data_dir: Path) -> None:
    lake = Lake(data_dir)
    reg = ConceptRegistry(lake)
    first = reg.ensure(
        "ICD10CN",
        {"E11": "糖尿病(HIS名称)", "Z99.9": "本地码"},
        domain="Condition",
        concept_class="Diagnosis",
    )
    with lake.transaction() as tx:
        reg.flush(tx)
    f = tmp_path / "icd.csv"
    f.write_text(TABLE, encoding="utf-8")
    load_code_table(lake, f, vocabulary="ICD10CN")
    rows = (
        lake.connect()
        .execute("SELECT concept_code, concept_id, concept_name FROM concept ORDER BY 1")
        .fetchall()
    )
    codes = [r[0] for r in rows]
    assert len(codes) == len(set(codes)) == 5  # no duplicates across the auto and vocabulary parts
    by_code = {r[0]: (r[1], r[2]) for r in rows}
    assert by_code["E11"] == (first["E11"], "2型糖尿病")
    assert by_code["Z99.9"][0] == first["Z99.9"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("code,disease\nA00,霍乱\nA01\n", "line 3: expected 2 fields"),
        ("code,disease\nA00,霍乱\nA00,重复\n", "duplicate code A00"),
        ("code,disease\n,无编码\n", "empty code"),
        ("onlyone\nA00\n", "header with at least two columns"),
    ],
)
def test_malformed_code_tables_are_refused_with_the_row(
    tmp_path: Path, data_dir: Path, content: str, message: str
) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(VocabularyError, match=message):
        load_code_table(Lake(data_dir), f, vocabulary="X")


def test_real_icd10_table_loads(shared_data: Path, data_dir: Path) -> None:
    out = load_code_table(Lake(data_dir), shared_data / "lexicons" / "ICD_10v601.csv", vocabulary="ICD10CN")
    assert out["concepts"] == 40474
    assert out["relationships"] > 30000


def test_tab_separated_tables_load(shared_data: Path, data_dir: Path) -> None:
    out = load_code_table(
        Lake(data_dir), shared_data / "lexicons" / "icd10cn_disease.csv", vocabulary="ICD10CN3"
    )
    assert out["concepts"] >= 1585
