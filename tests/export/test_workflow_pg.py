"""The workflow on PostgreSQL (the production store): the migration, the row locks, the audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medlake import audit
from medlake.export.catalog import DatasetCatalog
from medlake.export.spec import DatasetSpec
from medlake.export.workflow import CURRENT_DUA, ExportWorkflow
from medlake.settings import Settings
from medlake.store import User, session_scope, upgrade
from medlake.web.services.accounts import add_member, create_project
from tests.export.conftest import spec_dict
from tests.export.lakegen import write_lake
from tests.store.backends import make_settings


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[Settings]:
    yield from make_settings("postgresql", tmp_path / "medlake-data")


@pytest.mark.postgres
def test_flow_on_postgresql(pg_store: Settings, tmp_path: Path) -> None:
    write_lake(pg_store.data_dir, 30)
    upgrade(pg_store)
    with session_scope(pg_store) as s:
        for name, role in (("alice", "researcher"), ("sam", "steward")):
            s.add(User(username=name, role=role, password_hash="!unused"))
        s.flush()
        add_member(s, create_project(s, "p1", "Diabetes"), "alice")
    saved = DatasetCatalog(pg_store.data_dir).save(
        DatasetSpec.model_validate(spec_dict(notes=None, deid={"k": 3}))
    )
    with session_scope(pg_store) as s:
        rid = (
            ExportWorkflow(s, pg_store)
            .request(
                "alice",
                saved,
                purpose="p",
                fields=[],
                dua_version=CURRENT_DUA,
                accept_dua=True,
                formats=["parquet"],
            )
            .id
        )
    with session_scope(pg_store) as s:
        ExportWorkflow(s, pg_store).approve(rid, "sam", "ok")
    with session_scope(pg_store) as s:
        assert ExportWorkflow(s, pg_store).build(rid, "alice").scan.clean
    with session_scope(pg_store) as s:
        assert ExportWorkflow(s, pg_store).download(rid, "alice", tmp_path / "dl").exists()
        assert ExportWorkflow(s, pg_store).get(rid).state == "downloaded"
    assert audit.verify(pg_store).ok
