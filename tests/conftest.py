"""Shared fixtures: the real data in ../shared/data (skipped when absent), PostgreSQL, tmp data dirs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MEDLAKE_SHARED_DATA", REPO.parent / "shared" / "data"))
PG_URL = os.environ.get("MEDLAKE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: the real data sets are not part of the repository."""
    if not SHARED_DATA.exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (set MEDLAKE_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "medlake-data"
    d.mkdir()
    return d


def _pg_reachable(url: str) -> bool:
    try:
        import sqlalchemy as sa

        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The PostgreSQL test server's URL, or skip (fail in CI, where MEDLAKE_REQUIRE_PG=1)."""
    if not _pg_reachable(PG_URL):
        if os.environ.get("MEDLAKE_REQUIRE_PG"):
            pytest.fail(f"PostgreSQL required but not reachable at {PG_URL}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    return PG_URL
