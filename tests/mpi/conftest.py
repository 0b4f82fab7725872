"""Fixtures for the master patient index: lakes holding source patients and their clinical rows."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from medlake.cdm.lake import Lake
from medlake.ingest.base import person_id_for
from medlake.mpi import LinkConfig, TrainingConfig
from medlake.mpi.noisy import noisy_population

#: no EM on the tiny fixtures: the prior model is what runs on a first small batch
PRIOR_ONLY = LinkConfig(training=TrainingConfig(min_records_for_em=10**9))


def person(system: str, local_id: str, name: str, birth: date | None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "src_system": system,
        "src_person_id": local_id,
        "name": name,
        "sex": extra.pop("sex", "M"),
        "birth_date": birth,
        "resident_id": extra.pop("resident_id", ""),
        "phone": extra.pop("phone", ""),
        "address": extra.pop("address", ""),
        "src_file": f"test-{system}",
        "src_record": local_id,
    }
    assert not extra, extra
    return row


def write_batch(lake: Lake, part: str, rows: Iterable[dict[str, Any]]) -> None:
    """Land ``rows`` as one source batch: source_person, person and one measurement per patient."""
    rows = list(rows)
    by_system: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_system.setdefault(r["src_system"], []).append(r)
    with lake.transaction() as tx:
        for system, group in by_system.items():
            key = f"{part}:{system}"
            tx.write("source_person", key, group)
            ids = [person_id_for(system, r["src_person_id"]) for r in group]
            tx.write(
                "person",
                key,
                [{"person_id": i, "person_source_value": r["src_person_id"], "src_system": system}
                 for i, r in zip(ids, group, strict=True)],
            )  # fmt: skip
            tx.write(
                "measurement",
                key,
                [{"measurement_id": n, "person_id": i, "value_as_number": float(n), "src_system": system}
                 for n, i in enumerate(ids)],
            )  # fmt: skip


def write_truth(path: Path, truth: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["person_key", "system", "local_id"])
        w.writeheader()
        w.writerows(truth)
    return path


@pytest.fixture
def lake(data_dir: Path) -> Lake:
    return Lake(data_dir).ensure()


@pytest.fixture(scope="session")
def noisy_small() -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    return noisy_population(300, seed=7)


@pytest.fixture
def noisy_lake(
    lake: Lake, noisy_small: tuple[list[dict[str, Any]], list[dict[str, str]]]
) -> Callable[[], tuple[Lake, list[dict[str, str]]]]:
    def build() -> tuple[Lake, list[dict[str, str]]]:
        rows, truth = noisy_small
        write_batch(lake, "noisy", rows)
        return lake, truth

    return build
