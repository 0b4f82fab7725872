"""Run the Alembic migrations programmatically (``medlake db upgrade`` and web start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError

from medlake.errors import StoreError
from medlake.settings import Settings
from medlake.store.engine import make_engine

MIGRATIONS = Path(__file__).with_name("migrations")


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest revision(s) of the scripts, comma-joined when features branched off in parallel."""
    heads = ScriptDirectory.from_config(_config()).get_heads()
    if not heads:
        raise StoreError("no migrations found")
    return ",".join(sorted(heads))


def current_revision(settings: Settings) -> str | None:
    """The database's revision(s), comma-joined like ``head_revision``; None before any migration."""
    try:
        with make_engine(settings).connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
            return ",".join(sorted(heads)) if heads else None
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the application store: {type(exc).__name__}") from exc


def upgrade(settings: Settings, revision: str = "heads") -> str:
    """Bring the store to ``revision`` (default: every head); returns the revision(s) now current.

    Features add revisions under ``migrations/versions`` (``down_revision`` = the revision they
    build on); parallel branches are all applied by the default ``heads``.
    """
    cfg = _config()
    try:
        with make_engine(settings).begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"migration failed: {type(exc).__name__}: {exc.args[0] if exc.args else ''}"
        ) from exc
    current = current_revision(settings)
    return current or ""
