"""Engines and sessions for the application store, one engine per database URL and process.

SQLite gets WAL, foreign keys and a busy timeout so the web server, the CLI and background jobs
can share the file. A session made here carries the data dir in ``session.info`` so that
``medlake.audit`` can keep its head checkpoint beside the lake.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from medlake.errors import DataDirError
from medlake.settings import Settings

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(settings: Settings) -> Engine:
    """The (cached) engine of ``settings.store_url``; creates the data dir for SQLite."""
    url = settings.store_url
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is not None:
            return engine
        if url.startswith("sqlite"):
            try:
                settings.data_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DataDirError(f"cannot create data dir {settings.data_dir}: {exc.strerror}") from exc
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        _ENGINES[url] = engine
        return engine


def dispose_engine(settings: Settings) -> None:
    """Close and forget the engine of ``settings`` (tests, and before dropping a PG schema)."""
    with _LOCK:
        engine = _ENGINES.pop(settings.store_url, None)
    if engine is not None:
        engine.dispose()


def session_factory(settings: Settings) -> sessionmaker[Session]:
    return sessionmaker(
        bind=make_engine(settings),
        expire_on_commit=False,
        info={"data_dir": str(settings.data_dir.resolve())},
    )


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    session = session_factory(settings)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
