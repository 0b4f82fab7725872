"""Fixtures of the model tests: a toy lake with a known risk model (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medlake.models.toylake import build_toy_lake


@pytest.fixture(scope="session")
def toy_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, float]]:
    d = tmp_path_factory.mktemp("toy") / "data"
    truth = build_toy_lake(d, n=500, seed=11)
    return d, truth
