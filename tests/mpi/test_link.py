"""Linkage on noisy multi-system patients recovers who is who."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from medlake.cdm.lake import Lake
from medlake.errors import ValidationFailed
from medlake.ingest.base import person_id_for
from medlake.mpi import LinkConfig, TrainingConfig, apply, evaluate, link
from medlake.mpi.noisy import resident_id
from medlake.mpi.prepare import prepare_input

from .conftest import PRIOR_ONLY, person, write_batch, write_truth


def _links(lake: Lake) -> dict[tuple[str, str], int]:
    t = lake.read("person_link").to_pylist()
    return {(r["src_system"], r["src_person_id"]): r["person_id"] for r in t}


def test_prepared_provisional_ids_are_person_id_for(lake: Lake) -> None:
    write_batch(
        lake, "b1", [person("LIS", "L0001", "张伟", date(1980, 3, 4)), person("HIS", "H1", "张伟", None)]
    )
    con = lake.connect()
    prepare_input(con)
    rows = con.execute("SELECT src_system, src_person_id, provisional_id FROM mpi_input").fetchall()
    con.close()
    assert {r[2] for r in rows} == {person_id_for(r[0], r[1]) for r in rows}


def test_small_noisy_set_recovers_the_truth(
    noisy_lake: Callable[[], tuple[Lake, list[dict[str, str]]]], tmp_path: Path
) -> None:
    lake, truth = noisy_lake()
    phases: list[str] = []
    result = link(lake, PRIOR_ONLY, progress=phases.append)
    assert not result.trained
    assert len(phases) == 4 and phases[-1] == "clustering"
    assert set(result.seconds) == {"prepare", "train", "predict", "cluster", "write"}
    assert result.records == len(truth)
    ev = evaluate(lake, write_truth(tmp_path / "identity.csv", truth))
    assert ev.records_found == ev.records == len(truth)
    assert ev.precision >= 0.99
    assert ev.recall >= 0.98
    assert abs(result.persons - len({t["person_key"] for t in truth})) <= 3
    # every cluster with a HIS member carries the HIS person id
    links = _links(lake)
    his = {pid for (system, _), pid in links.items() if system == "HIS"}
    assert len(his) == sum(1 for t in truth if t["system"] == "HIS")


def test_trained_model_is_deterministic_and_accurate(
    noisy_lake: Callable[[], tuple[Lake, list[dict[str, str]]]], tmp_path: Path
) -> None:
    lake, truth = noisy_lake()
    cfg = LinkConfig(
        training=TrainingConfig(min_records_for_em=100, u_max_pairs=5e4, em_max_pairs=5e4, seed=3)
    )
    first = link(lake, cfg)
    assert first.trained
    links_1 = lake.read("person_link").to_pylist()
    ev = evaluate(lake, write_truth(tmp_path / "identity.csv", truth))
    assert ev.precision >= 0.99 and ev.recall >= 0.98, ev
    link(lake, cfg)
    assert lake.read("person_link").to_pylist() == links_1


def test_homophone_typo_swapped_birth_date_and_phone_typo_link(lake: Lake) -> None:
    write_batch(
        lake,
        "b1",
        [
            person(
                "HIS",
                "H001",
                "张伟",
                date(1975, 4, 9),
                resident_id=resident_id("110105", date(1975, 4, 9), 1),
                phone="13812345678",
                address="浙江省杭州市西湖区文三路1号",
            ),
            person("HIS", "H002", "张伟", date(1990, 1, 2), phone="13900000000"),
            person("LIS", "L900", "章伟", date(1975, 4, 9), phone="13812345679"),  # homophone + phone typo
            person("PARTNER", "F3", "张伟", None, resident_id=resident_id("110105", date(1975, 4, 9), 1)),
            person("PACS", "P77", "ZHANG^WEI", date(1975, 9, 4)),  # pinyin name, day/month swapped
            person("EMR", "H001", "张玮", date(1975, 4, 9), address="杭州市西湖区文三路1号"),
            person("LIS", "L901", "李娜", date(1990, 1, 2), sex="F"),  # same birth date, another person
        ],  # fmt: skip
    )
    link(lake, PRIOR_ONLY)
    links = _links(lake)
    h1 = person_id_for("HIS", "H001")
    assert links[("LIS", "L900")] == h1
    assert links[("EMR", "H001")] == h1
    assert links[("PACS", "P77")] == h1
    assert links[("PARTNER", "F3")] == h1  # birth date taken from the resident id
    assert links[("HIS", "H002")] == person_id_for("HIS", "H002")
    assert links[("LIS", "L901")] == person_id_for("LIS", "L901")


def test_new_batch_links_to_existing_persons(lake: Lake) -> None:
    write_batch(lake, "b1", [person("HIS", "H1", "王芳", date(1960, 5, 6), sex="F", phone="13700000001")])
    link(lake, PRIOR_ONLY)
    before = lake.read("person_link").to_pylist()
    write_batch(lake, "b2", [person("LIS", "L5", "汪芳", date(1960, 5, 6), sex="F", phone="13700000001")])
    link(lake, PRIOR_ONLY)
    links = _links(lake)
    assert links[("LIS", "L5")] == person_id_for("HIS", "H1")
    kept = [r for r in lake.read("person_link").to_pylist() if r["src_system"] == "HIS"]
    assert kept == before  # the HIS link (and its linked_at) is unchanged


def test_duplicate_source_rows_are_one_record(lake: Lake) -> None:
    write_batch(lake, "b1", [person("LIS", "L1", "刘洋", date(2001, 2, 3))])
    write_batch(lake, "b2", [person("LIS", "L1", "刘洋", date(2001, 2, 3), phone="13600000000")])
    result = link(lake, PRIOR_ONLY)
    assert result.records == 1


def test_empty_lake_links_and_applies_nothing(lake: Lake) -> None:
    result = link(lake, PRIOR_ONLY)
    assert (result.records, result.persons) == (0, 0)
    assert lake.count("person_link") == 0
    assert apply(lake).parts_rewritten == 0


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValidationFailed):
        LinkConfig(threshold=0.5, review_threshold=0.9)
    with pytest.raises(ValidationFailed):
        LinkConfig(threshold=1.5)
