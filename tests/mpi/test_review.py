"""Review queue and decisions: uncertain pairs are listed masked; decisions persist and re-apply."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from medlake.cdm.lake import Lake
from medlake.errors import NotFound, ValidationFailed
from medlake.ingest.base import person_id_for
from medlake.mpi import decide, link, pair_id, review_queue
from medlake.mpi.noisy import noisy_population
from medlake.mpi.review import parse_source_key

from .conftest import PRIOR_ONLY, person, write_batch

CFG = replace(PRIOR_ONLY, threshold=0.99, review_threshold=0.2)
H1 = person_id_for("HIS", "H1")


def _setup(lake: Lake) -> str:
    background, _ = noisy_population(80, seed=11)
    write_batch(lake, "bg", background)
    # same name, birth year and month, nothing else in common: neither sure nor impossible
    write_batch(
        lake,
        "b1",
        [person("HIS", "H1", "周杰", date(1980, 5, 5)), person("LIS", "L1", "周杰", date(1980, 5, 23))],
    )
    link(lake, CFG)
    return pair_id("HIS|H1", "LIS|L1")


def _person_of(lake: Lake, system: str, local_id: str) -> int:
    rows = [
        r
        for r in lake.read("person_link").to_pylist()
        if (r["src_system"], r["src_person_id"]) == (system, local_id)
    ]
    assert len(rows) == 1
    return int(rows[0]["person_id"])


def test_uncertain_pair_is_queued_with_masked_identifiers(lake: Lake) -> None:
    pid = _setup(lake)
    queue = {p["pair_id"]: p for p in review_queue(lake, limit=1000)}
    assert pid in queue
    entry = queue[pid]
    assert 0.2 <= entry["match_probability"] < 0.99
    sides = {entry["left"]["src_system"]: entry["left"], entry["right"]["src_system"]: entry["right"]}
    assert sides["HIS"]["name"] == "周*" and sides["HIS"]["birth_date"] == "1980-**-**"
    assert sides["HIS"]["src_person_id"] == "**" and sides["LIS"]["src_person_id"] == "**"
    full = {p["pair_id"]: p for p in review_queue(lake, limit=1000, reveal=True)}[pid]
    assert {full["left"]["name"], full["right"]["birth_date"]} <= {"周杰", "1980-05-05", "1980-05-23"}
    assert _person_of(lake, "LIS", "L1") != H1


def test_match_decision_links_and_persists_across_runs(lake: Lake) -> None:
    pid = _setup(lake)
    row = decide(lake, pid, match=True, decided_by="engineer", note="same ward, confirmed by phone")
    assert row["decision"] == "match"
    assert pid not in {p["pair_id"] for p in review_queue(lake, limit=1000)}
    result = link(lake, CFG)
    assert result.decisions_applied == 1
    assert _person_of(lake, "LIS", "L1") == H1
    links = [r for r in lake.read("person_link").to_pylist() if r["src_person_id"] == "L1"]
    assert links[0]["link_method"] == "review"
    link(lake, CFG)  # and again on a later run
    assert _person_of(lake, "LIS", "L1") == H1


def test_no_match_decision_overrides_a_later_strong_link(lake: Lake) -> None:
    pid = _setup(lake)
    decide(lake, pid, match=True)
    link(lake, CFG)
    decide(lake, pid, match=False)  # re-decided: the newer decision wins
    assert lake.count("mpi_decision") == 1
    # a new batch makes the pair look certain; the reviewer's no-match still holds
    write_batch(lake, "b2", [person("LIS", "L1", "周杰", date(1980, 5, 5), phone="13000000000")])
    link(lake, CFG)
    assert _person_of(lake, "LIS", "L1") == person_id_for("LIS", "L1")
    # without the decision, the same data links
    with lake.transaction() as tx:
        tx.delete("mpi_decision", f"decision-{pid}")
    link(lake, CFG)
    assert _person_of(lake, "LIS", "L1") == H1


def test_decide_rejects_unknown_and_malformed_pairs(lake: Lake) -> None:
    _setup(lake)
    with pytest.raises(NotFound):
        decide(lake, "0123456789abcdef", match=True)
    with pytest.raises(ValidationFailed):
        decide(lake, "not-a-pair", match=True)


def test_decide_on_explicit_patients_checks_they_exist(lake: Lake) -> None:
    _setup(lake)
    with pytest.raises(NotFound):
        decide(lake, match=False, left=("LIS", "L1"), right=("LIS", "NOPE"))
    with pytest.raises(ValidationFailed):
        decide(lake, match=True, left=("HIS", "H1"), right=("HIS", "H1"))
    with pytest.raises(ValidationFailed):
        parse_source_key("L1")
    assert parse_source_key("lis:L1") == ("LIS", "L1")
