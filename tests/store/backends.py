"""The store backends every store/audit test runs against: SQLite in a tmp data dir and PostgreSQL
(a fresh schema per test via ``search_path``, dropped afterwards; skipped when the server is down)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from medlake.settings import Settings
from medlake.store.engine import dispose_engine
from tests.conftest import PG_URL


@lru_cache(maxsize=1)
def pg_error() -> str | None:
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip the PG variant
        return f"{type(exc).__name__}"
    return None


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def make_settings(backend: str, data_dir: Path) -> Iterator[Settings]:
    data_dir.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        settings = Settings(data_dir=data_dir, env="test")
        yield settings
        dispose_engine(settings)
        return
    reason = pg_error()
    if reason:
        pytest.skip(f"PostgreSQL at {PG_URL} not reachable ({reason})")
    schema = f"medlake_web_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    settings = Settings(
        data_dir=data_dir, env="test", database_url=f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    )
    try:
        yield settings
    finally:
        dispose_engine(settings)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
