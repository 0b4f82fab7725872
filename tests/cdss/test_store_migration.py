from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from medlake.cdss.store import CdsStore, metadata
from medlake.settings import Settings
from medlake.store import head_revision, make_engine, upgrade
from medlake.store.engine import dispose_engine


def test_migration_creates_the_tables_the_store_uses(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "a")
    assert upgrade(settings) == head_revision()
    engine = make_engine(settings)
    assert {"cdss_card", "cdss_feedback"} <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
    assert [d for d in diffs if "cdss_" in str(d)] == []
    dispose_engine(settings)


def test_a_store_used_before_migration_still_migrates(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "b")
    store = CdsStore(make_engine(settings))
    assert store.counts() == {"cards": 0, "feedback": 0}
    assert upgrade(settings) == head_revision()
    dispose_engine(settings)
