from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from medlake.settings import Settings
from medlake.web import passwords
from tests.store.backends import BACKENDS, make_settings


@pytest.fixture(scope="session", autouse=True)
def cheap_argon2() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(passwords, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


@pytest.fixture(params=BACKENDS)
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    yield from make_settings(request.param, tmp_path / "medlake-data")
