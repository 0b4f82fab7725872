"""Pairwise precision / recall against a truth file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from medlake.cdm.lake import Lake
from medlake.errors import InputFormatError, InputNotFound
from medlake.mpi import evaluate

from .conftest import write_truth


def _links(lake: Lake, clusters: dict[str, int]) -> None:
    rows = []
    for key, pid in clusters.items():
        system, local = key.split("|")
        rows.append({"src_system": system, "src_person_id": local, "person_id": pid, "match_probability": 1.0,
                     "link_method": "test", "linked_at": datetime(2026, 1, 1)})  # fmt: skip
    with lake.transaction() as tx:
        tx.write("person_link", "mpi", rows)


def test_pairwise_counts(lake: Lake, tmp_path: Path) -> None:
    # truth: A = {H1, L1, P1}, B = {H2, L2}; predicted: {H1, L1}, {P1}, {H2, L2, L3(not in truth)}
    _links(lake, {"HIS|H1": 1, "LIS|L1": 1, "PACS|P1": 3, "HIS|H2": 2, "LIS|L2": 2, "LIS|L3": 2})
    truth = [
        {"person_key": "A", "system": "HIS", "local_id": "H1"},
        {"person_key": "A", "system": "LIS", "local_id": "L1"},
        {"person_key": "A", "system": "PACS", "local_id": "P1"},
        {"person_key": "B", "system": "HIS", "local_id": "H2"},
        {"person_key": "B", "system": "LIS", "local_id": "L2"},
        {"person_key": "C", "system": "PARTNER", "local_id": "F1"},  # never ingested
    ]
    ev = evaluate(lake, write_truth(tmp_path / "t.csv", truth))
    assert (ev.true_positive_pairs, ev.pairs, ev.true_pairs) == (2, 2, 4)
    assert ev.precision == 1.0 and ev.recall == 0.5
    assert ev.f1 == pytest.approx(2 / 3, abs=1e-6)
    assert (ev.records, ev.records_found) == (6, 5)


def test_false_merge_lowers_precision(lake: Lake, tmp_path: Path) -> None:
    _links(lake, {"HIS|H1": 1, "LIS|L1": 1, "LIS|L2": 1})
    truth = [
        {"person_key": "A", "system": "HIS", "local_id": "H1"},
        {"person_key": "A", "system": "LIS", "local_id": "L1"},
        {"person_key": "B", "system": "LIS", "local_id": "L2"},
    ]
    ev = evaluate(lake, write_truth(tmp_path / "t.csv", truth))
    assert ev.precision == pytest.approx(1 / 3, abs=1e-6) and ev.recall == 1.0


def test_bad_truth_files(lake: Lake, tmp_path: Path) -> None:
    with pytest.raises(InputNotFound):
        evaluate(lake, tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("key,system,id\nA,HIS,H1\n", encoding="utf-8")
    with pytest.raises(InputFormatError):
        evaluate(lake, bad)
