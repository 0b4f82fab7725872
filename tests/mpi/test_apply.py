"""Applying links: one person_id per real person across clinical tables, idempotently."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq

from medlake.cdm.lake import Lake
from medlake.ingest.base import person_id_for
from medlake.mpi import apply, decide, link, pair_id

from .conftest import PRIOR_ONLY, person, write_batch

H1 = person_id_for("HIS", "H1")
H2 = person_id_for("HIS", "H2")


def _batch1() -> list[dict[str, object]]:
    return [
        person("HIS", "H1", "陈静", date(1970, 1, 20), sex="F", phone="13511112222"),
        person("HIS", "H2", "赵强", date(1985, 7, 7), phone="13733334444"),
        person("LIS", "L1", "陈婧", date(1970, 1, 20), sex="F", phone="13511112222"),
        person("PACS", "P1", "CHEN^JING", date(1970, 1, 20), sex="F"),
        person("LIS", "L2", "孙悦", date(1999, 9, 9), sex="F", phone="18800001111"),
        person("PACS", "P2", "孙悦", date(1999, 9, 9), sex="F", phone="18800001111"),
    ]


def _mtimes(lake: Lake) -> dict[str, int]:
    return {
        str(p): p.stat().st_mtime_ns for p in lake.lake_dir.rglob("*.parquet") if "_mpi_applied" not in str(p)
    }


def test_apply_remaps_clinical_rows_and_drops_duplicate_persons(lake: Lake) -> None:
    write_batch(lake, "b1", _batch1())
    link(lake, PRIOR_ONLY)
    res = apply(lake)
    assert res.ambiguous_ids == 0
    con = lake.connect()
    by_system = dict(
        con.execute(
            "SELECT src_system, list(DISTINCT person_id ORDER BY person_id) FROM measurement GROUP BY ALL"
        ).fetchall()
    )
    persons = con.execute(
        "SELECT person_id, src_system FROM person ORDER BY src_system, person_id"
    ).fetchall()
    con.close()
    sunyue = min(person_id_for("LIS", "L2"), person_id_for("PACS", "P2"))
    assert by_system["LIS"] == sorted([H1, sunyue])
    assert by_system["PACS"] == sorted([H1, sunyue])
    assert by_system["HIS"] == sorted([H1, H2])
    # one person row per real person: HIS rows kept, linked LIS/PACS rows dropped, one kept for 孙悦
    assert sorted(p for p, _ in persons) == sorted([H1, H2, sunyue])
    assert ("HIS" in {s for p, s in persons if p == H1}) and len([p for p, _ in persons if p == sunyue]) == 1
    assert res.person_rows_dropped == 3


def test_apply_is_idempotent_and_relink_changes_nothing(lake: Lake) -> None:
    write_batch(lake, "b1", _batch1())
    link(lake, PRIOR_ONLY)
    apply(lake)
    before = _mtimes(lake)
    again = apply(lake)
    assert again.parts_rewritten == 0 and again.rows_remapped == 0 and again.person_rows_dropped == 0
    links = lake.read("person_link").to_pylist()
    link(lake, PRIOR_ONLY)
    assert lake.read("person_link").to_pylist() == links
    third = apply(lake)
    assert third.parts_rewritten == 0
    after = _mtimes(lake)
    assert {k: v for k, v in after.items() if "person_link" not in k and "mpi_review" not in k} == {
        k: v for k, v in before.items() if "person_link" not in k and "mpi_review" not in k
    }


def test_incremental_batch_touches_only_what_changed(lake: Lake) -> None:
    write_batch(lake, "b1", _batch1())
    link(lake, PRIOR_ONLY)
    apply(lake)
    first = _mtimes(lake)
    # a new LIS batch: one known patient (赵强, new LIS id) and one new patient
    write_batch(
        lake,
        "b2",
        [
            person("LIS", "L9", "赵强", date(1985, 7, 7), phone="13733334444"),
            person("LIS", "L10", "吴敏", date(2010, 3, 3)),
        ],
    )
    link(lake, PRIOR_ONLY)
    res = apply(lake)
    assert res.tables == {"measurement": 1, "person": 0}
    b2 = pq.read_table(lake.table_dir("measurement") / "b2_LIS.parquet").to_pylist()
    assert [r["person_id"] for r in b2] == [H2, person_id_for("LIS", "L10")]
    after = _mtimes(lake)
    unchanged = [k for k in first if "b1" in k and "person_link" not in k]
    assert unchanged and all(after[k] == first[k] for k in unchanged)


def test_later_rows_of_an_already_linked_patient_are_remapped(lake: Lake) -> None:
    write_batch(lake, "b1", _batch1())
    link(lake, PRIOR_ONLY)
    apply(lake)
    # the LIS sends new results for L1 (already linked to H1): they arrive with L1's provisional id
    write_batch(lake, "b3", [person("LIS", "L1", "陈婧", date(1970, 1, 20), sex="F", phone="13511112222")])
    link(lake, PRIOR_ONLY)
    res = apply(lake)
    assert res.ambiguous_ids == 0
    b3 = pq.read_table(lake.table_dir("measurement") / "b3_LIS.parquet").to_pylist()
    assert [r["person_id"] for r in b3] == [H1]
    assert apply(lake).parts_rewritten == 0


def test_splitting_a_wrong_link_moves_rows_back(lake: Lake) -> None:
    write_batch(lake, "b1", _batch1())
    link(lake, PRIOR_ONLY)
    apply(lake)
    # the engineer finds 孙悦 (LIS L2) and 孙悦 (PACS P2) are two people: split them
    row = decide(lake, match=False, left=("LIS", "L2"), right=("PACS", "P2"), decided_by="engineer")
    assert row["pair_id"] == pair_id("LIS|L2", "PACS|P2")
    link(lake, PRIOR_ONLY)
    links = {
        (r["src_system"], r["src_person_id"]): r["person_id"] for r in lake.read("person_link").to_pylist()
    }
    assert links[("LIS", "L2")] == person_id_for("LIS", "L2")
    assert links[("PACS", "P2")] == person_id_for("PACS", "P2")
    res = apply(lake)
    # one member per system in the split cluster: each system's rows can be told apart again
    assert res.ambiguous_ids == 0
    con = lake.connect()
    held = dict(con.execute("SELECT src_system, list(person_id ORDER BY measurement_id) FROM measurement "
                            "WHERE src_system IN ('LIS', 'PACS') GROUP BY ALL").fetchall())  # fmt: skip
    con.close()
    assert person_id_for("LIS", "L2") in held["LIS"] and person_id_for("PACS", "P2") in held["PACS"]
    assert apply(lake).parts_rewritten == 0
