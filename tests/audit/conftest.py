from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medlake.settings import Settings
from tests.store.backends import BACKENDS, make_settings


@pytest.fixture(params=BACKENDS)
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    yield from make_settings(request.param, tmp_path / "medlake-data")
