"""The whole web flow with the application store on PostgreSQL (fresh schema, dropped afterwards)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from medlake import audit
from medlake.settings import Settings
from medlake.store import session_scope
from medlake.web.app import create_app
from medlake.web.services.demo import create_demo_accounts
from tests.store.backends import make_settings
from tests.web.conftest import PASSWORD, login
from tests.web.tiny_lake import build_tiny_lake

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_settings(tmp_path: Path) -> Iterator[Settings]:
    yield from make_settings("postgresql", tmp_path / "medlake-data")


def test_web_on_postgres(pg_settings: Settings) -> None:
    build_tiny_lake(pg_settings.data_dir)
    create_demo_accounts(pg_settings, password=PASSWORD)
    with TestClient(create_app(pg_settings)) as c:
        login(c, "clinician")
        assert c.get("/patients/1001").status_code == 200
        login(c, "researcher")
        assert c.get("/audit").status_code == 403
    result = audit.verify(pg_settings)
    assert result.ok and result.entries >= 4
    with session_scope(pg_settings) as s:
        s.execute(text("UPDATE audit_log SET actor = 'x' WHERE action = 'patient.view'"))
    broken = audit.verify(pg_settings)
    assert not broken.ok and broken.broken_seq is not None
