"""Read-only access to the lake for the web: one DuckDB connection per catalog version.

The lake's catalog file is rewritten on every commit, so its mtime is the lake's version. The
connection (one view per table over the current Parquet parts) and every cached aggregate are
rebuilt when that version changes; each request gets its own cursor on the shared connection.

``derived(name, select_sql)`` keeps a version-keyed DuckDB file under ``<data_dir>/cache/web``
(for example the person-sorted timeline index): built once per lake version in a background
thread, written aside and renamed; until it is ready callers fall back to the lake tables.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from medlake.cdm.lake import Lake

T = TypeVar("T")


class LakeReader:
    def __init__(self, data_dir: Path, *, threads: int | None = None) -> None:
        self.lake = Lake(data_dir)
        self._threads = threads
        self._lock = threading.Lock()
        self._version: int | None = None
        self._con: duckdb.DuckDBPyConnection | None = None
        self._cache: dict[str, Any] = {}
        self._building: set[str] = set()
        self._attached: set[str] = set()
        self.cache_dir = self.lake.root / "cache" / "web"

    def version(self) -> int:
        try:
            return self.lake.catalog_path.stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def _refresh_locked(self, version: int) -> duckdb.DuckDBPyConnection:
        """The shared connection for ``version``; the caller holds ``self._lock`` (the parent
        connection is only ever touched under it: cursors, ATTACH, close)."""
        if self._con is None or version != self._version:
            old = self._con
            self._con = self.lake.connect(threads=self._threads)
            self._con.execute("SET enable_progress_bar = false")
            self._attached = set()
            self._version = version
            self._cache = {}
            # the old connection is not closed here: requests or a background build may still be
            # reading through cursors of it; it is released when the last of them is dropped
            del old
        return self._con

    def _refresh(self) -> None:
        version = self.version()
        with self._lock:
            self._refresh_locked(version)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one request (DuckDB connections are not shared between threads)."""
        version = self.version()
        with self._lock:
            return self._refresh_locked(version).cursor()

    def cached(self, key: str, compute: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """``compute(cursor)`` once per lake version."""
        self._refresh()
        with self._lock:
            if key in self._cache:
                hit: T = self._cache[key]
                return hit
        cur = self.cursor()
        try:
            value = compute(cur)
        finally:
            cur.close()
        with self._lock:
            self._cache[key] = value
        return value

    def derived_path(self, name: str, version: int, select_sql: str) -> Path:
        """Keyed by the lake version and the SQL text, so a changed query never reads a stale file."""
        digest = hashlib.sha256(select_sql.encode()).hexdigest()[:12]
        return self.cache_dir / f"{name}-{version}-{digest}.duckdb"

    def derived(self, name: str, select_sql: str, *, wait: bool = False) -> str | None:
        """The table holding ``select_sql``'s rows for the current lake version, or None while building.

        The rows live in a DuckDB file (zone maps make a lookup on the sort key read one row group);
        it is attached read-only to the shared connection under ``idx_<name>``.
        """
        current = self.version()
        with self._lock:
            con = self._refresh_locked(current)
            version = self._version or 0
            path = self.derived_path(name, version, select_sql)
            alias = f"idx_{name}"
            key = path.stem
            if key in self._attached:
                return f"{alias}.data"
            if path.exists():
                quoted = str(path).replace("'", "''")
                con.execute(f"ATTACH '{quoted}' AS {alias} (READ_ONLY)")
                self._attached.add(key)
                return f"{alias}.data"
            busy = key in self._building
            if not busy:
                self._building.add(key)
        if not busy:
            if wait:
                self._build(name, version, select_sql)
                return self.derived(name, select_sql)
            threading.Thread(target=self._build, args=(name, version, select_sql), daemon=True).start()
            return None
        while wait and key in self._building:
            time.sleep(0.05)
        return self.derived(name, select_sql) if wait else None

    def _build(self, name: str, version: int, select_sql: str) -> None:
        path = self.derived_path(name, version, select_sql)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        alias = f"bld_{name}_{os.getpid()}"
        cur = self.cursor()
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp.unlink(missing_ok=True)
            cur.execute(f"ATTACH '{str(tmp).replace(chr(39), chr(39) * 2)}' AS {alias}")
            try:
                cur.execute(f"CREATE TABLE {alias}.data AS {select_sql}")
            finally:
                cur.execute(f"DETACH {alias}")
            os.replace(tmp, path)
            for old in self.cache_dir.glob(f"{name}-*.duckdb"):
                if old != path:
                    old.unlink(missing_ok=True)
        finally:
            cur.close()
            tmp.unlink(missing_ok=True)
            Path(f"{tmp}.wal").unlink(missing_ok=True)
            with self._lock:
                self._building.discard(path.stem)

    def rows(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cur = self.cursor()
        try:
            result = cur.execute(sql, params if params is not None else [])
            names = [d[0] for d in result.description or []]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        finally:
            cur.close()

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
            self._con = None
            self._version = None
            self._cache = {}
