"""The application store: migrations applied programmatically, models in step with them, on both backends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from medlake.errors import NotFound, ValidationFailed
from medlake.settings import Settings
from medlake.store import (
    Base,
    Project,
    User,
    current_revision,
    head_revision,
    make_engine,
    session_scope,
    upgrade,
)
from medlake.web.services import accounts


def test_upgrade_creates_schema_and_is_idempotent(store_settings: Settings) -> None:
    assert current_revision(store_settings) is None
    assert upgrade(store_settings) == head_revision()
    assert upgrade(store_settings) == head_revision()
    tables = set(inspect(make_engine(store_settings)).get_table_names())
    assert {"users", "projects", "project_members", "web_sessions", "audit_log", "audit_state"} <= tables


def test_models_match_migrations(store_settings: Settings) -> None:
    upgrade(store_settings)
    with make_engine(store_settings).connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False, "include_object": _ours})
        diffs = compare_metadata(ctx, Base.metadata)
    assert diffs == []


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Compare only the tables of the models imported here (features add their own tables)."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table in Base.metadata.tables and table != "alembic_version"


def test_sqlite_is_the_default_in_the_data_dir(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "d")
    assert settings.store_url == f"sqlite:///{(tmp_path / 'd' / 'app.db').resolve()}"
    upgrade(settings)
    assert (tmp_path / "d" / "app.db").exists()


def test_users_projects_and_members(store_settings: Settings) -> None:
    upgrade(store_settings)
    with session_scope(store_settings) as s:
        accounts.create_user(s, "alice", "researcher", "long-password")
        accounts.create_user(s, "bob", "clinician", "long-password")
        p = accounts.create_project(s, "diab", "Diabetes study", created_by="alice")
        accounts.add_member(s, p, "alice", project_role="owner")
    with session_scope(store_settings) as s:
        alice = s.execute(select(User).where(User.username == "alice")).scalar_one()
        project = s.execute(select(Project).where(Project.code == "diab")).scalar_one()
        assert accounts.is_member(s, project.id, alice.id)
        assert [p.code for p in accounts.projects_of(s, alice.id)] == ["diab"]
        bob = accounts.get_user(s, "bob")
        assert bob is not None and accounts.projects_of(s, bob.id) == []
        assert alice.password_hash.startswith("$argon2id$")
        assert "long-password" not in alice.password_hash
        with pytest.raises(ValidationFailed):
            accounts.create_user(s, "alice", "admin", "another-password")
        with pytest.raises(ValidationFailed):
            accounts.create_user(s, "carol", "superuser", "long-password")
        with pytest.raises(ValidationFailed):
            accounts.create_user(s, "carol", "admin", "short")
        with pytest.raises(NotFound):
            accounts.add_member(s, project, "nobody")


def test_unique_username_enforced_by_the_database(store_settings: Settings) -> None:
    upgrade(store_settings)
    with pytest.raises(IntegrityError), session_scope(store_settings) as s:
        s.add(User(username="dup", role="admin", password_hash="x"))
        s.add(User(username="dup", role="admin", password_hash="y"))
        s.flush()


def test_deleting_a_project_cascades_to_members(store_settings: Settings) -> None:
    upgrade(store_settings)
    with session_scope(store_settings) as s:
        accounts.create_user(s, "alice", "researcher", "long-password")
        p = accounts.create_project(s, "p1", "P1")
        accounts.add_member(s, p, "alice")
    with session_scope(store_settings) as s:
        s.delete(accounts.project_by_code(s, "p1"))
    with session_scope(store_settings) as s:
        assert s.execute(text("SELECT count(*) FROM project_members")).scalar_one() == 0
