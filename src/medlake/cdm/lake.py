"""Lake storage: one folder of Parquet parts per table, swapped in atomically, plus a DuckDB catalog.

Layout of a data dir::

    raw/<sha[:2]>/<sha256>      immutable copies of every captured source file
    lake/<table>/<part>.parquet table rows, one part per source file (or per job)
    catalog.duckdb              views over the parts (rebuilt after every commit, written aside then swapped)

Writers take the data dir's lock and stage every part of a transaction under a temporary name;
``commit`` renames them into place, so readers see the old or the new part, never half of one.
A part written again under the same name replaces the old one: that is how a changed source file
becomes a new version without duplicating rows.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from medlake.cdm.schema import TABLES, arrow_schema, duckdb_columns
from medlake.errors import DataDirError, LakeLockedError, SchemaError

_PART_RE = re.compile(r"[^A-Za-z0-9_.\-]")


def part_name(key: str) -> str:
    """A file-system-safe part name for a source key."""
    safe = _PART_RE.sub("_", key)
    return safe[:180] or "part"


class Lake:
    def __init__(self, data_dir: Path | str) -> None:
        self.root = Path(data_dir).resolve()

    # -- layout ---------------------------------------------------------------------------------
    @property
    def lake_dir(self) -> Path:
        return self.root / "lake"

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def catalog_path(self) -> Path:
        return self.root / "catalog.duckdb"

    def ensure(self) -> Lake:
        try:
            self.lake_dir.mkdir(parents=True, exist_ok=True)
            self.raw_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataDirError(f"cannot create data dir {self.root}: {exc.strerror}") from exc
        if not self.catalog_path.exists():
            self.refresh_catalog()
        return self

    def table_dir(self, name: str) -> Path:
        if name not in TABLES:
            raise SchemaError(f"unknown lake table {name!r}")
        return self.lake_dir / name

    def parts(self, name: str) -> list[Path]:
        d = self.table_dir(name)
        if not d.exists():
            return []
        return sorted(p for p in d.glob("*.parquet") if not p.name.startswith("."))

    def has_part(self, name: str, part: str) -> bool:
        return (self.table_dir(name) / f"{part_name(part)}.parquet").exists()

    # -- reading --------------------------------------------------------------------------------
    def view_sql(self, name: str) -> str:
        parts = self.parts(name)
        cols = duckdb_columns(name)
        if not parts:
            select = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in cols)
            return f"SELECT {select} WHERE false"
        files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in parts)
        names = ", ".join(f'"{c}"' for c, _ in cols)
        return f"SELECT {names} FROM read_parquet([{files}], union_by_name=true)"

    def connect(self, *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one view per lake table."""
        con = duckdb.connect(":memory:")
        if threads:
            con.execute(f"SET threads={int(threads)}")
        for name in TABLES:
            con.execute(f'CREATE VIEW "{name}" AS {self.view_sql(name)}')
        return con

    def count(self, name: str) -> int:
        parts = self.parts(name)
        return sum(pq.ParquetFile(p).metadata.num_rows for p in parts)

    def counts(self) -> dict[str, int]:
        return {name: self.count(name) for name in TABLES}

    def read(self, name: str, columns: list[str] | None = None) -> pa.Table:
        parts = self.parts(name)
        if not parts:
            return arrow_schema(name).empty_table()
        tables = [pq.read_table(p, columns=columns) for p in parts]
        return pa.concat_tables(tables, promote_options="default")

    def refresh_catalog(self) -> None:
        """Rewrite catalog.duckdb with views over the current parts (aside, then swap)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.catalog_path.with_name(f".catalog-{os.getpid()}.duckdb")
        if tmp.exists():
            tmp.unlink()
        con = duckdb.connect(str(tmp))
        try:
            for name in TABLES:
                con.execute(f'CREATE VIEW "{name}" AS {self.view_sql(name)}')
        finally:
            con.close()
        os.replace(tmp, self.catalog_path)

    # -- writing --------------------------------------------------------------------------------
    @contextmanager
    def lock(self, *, wait_seconds: float = 600.0) -> Iterator[None]:
        """Hold the data dir's writer lock (one writer at a time; readers never wait)."""
        self.ensure()
        fh = open(self.root / ".lake.lock", "a+")  # noqa: SIM115 - held for the context's lifetime
        deadline = time.monotonic() + wait_seconds
        try:
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LakeLockedError(f"data dir {self.root} is locked by another writer") from None
                    time.sleep(0.2)
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()

    @contextmanager
    def transaction(self, *, locked: bool = False, refresh: bool = True) -> Iterator[LakeTransaction]:
        """Stage parts and swap them in on success; roll back on error.

        ``locked=True`` when the caller already holds ``lock()`` (a long job doing many
        transactions); ``refresh=False`` defers the catalog rebuild to the caller.
        """
        if not locked:
            with self.lock(), self.transaction(locked=True, refresh=refresh) as tx:
                yield tx
            return
        self.ensure()
        tx = LakeTransaction(self)
        try:
            yield tx
        except BaseException:
            tx.rollback()
            raise
        tx.commit(refresh=refresh)


def conform(name: str, data: Any) -> pa.Table:
    """Cast ``data`` (Arrow table, DuckDB relation or list of dicts) to the table's schema.

    Missing columns become nulls; unknown columns are an error (a typo would otherwise lose data).
    """
    schema = arrow_schema(name)
    if isinstance(data, pa.Table) and data.schema.equals(schema):
        return data  # already in the table's schema (row_tables.to_table, a worker's rows)
    if isinstance(data, duckdb.DuckDBPyRelation):
        data = data.to_arrow_table()
    elif isinstance(data, list):
        keys = {k for row in data for k in row}
        unknown_keys = keys - set(schema.names)
        if unknown_keys:
            raise SchemaError(f"columns not in the {name} schema: {sorted(unknown_keys)}")
        # every row's keys count (from_pylist alone would take the columns of the first row only)
        data = pa.Table.from_pylist(data, schema=schema) if data else schema.empty_table()
    if not isinstance(data, pa.Table):
        raise SchemaError(f"cannot write {type(data).__name__} to {name}")
    unknown = set(data.column_names) - set(schema.names)
    if unknown:
        raise SchemaError(f"columns not in the {name} schema: {sorted(unknown)}")
    arrays = []
    for field in schema:
        if field.name in data.column_names:
            col = data.column(field.name)
            if col.type != field.type:
                col = col.cast(field.type)
            arrays.append(col)
        else:
            arrays.append(pa.nulls(data.num_rows, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


class LakeTransaction:
    """Parts staged aside and swapped in on commit; nothing visible before that."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._staged: list[tuple[Path, Path]] = []
        self._staged_finals: set[Path] = set()
        self._deletes: list[Path] = []
        self.rows_written: dict[str, int] = {}

    def write(self, name: str, part: str, data: Any) -> int:
        table = conform(name, data)
        directory = self.lake.table_dir(name)
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / f"{part_name(part)}.parquet"
        staged_here = final in self._staged_finals
        if table.num_rows == 0 and not final.exists() and not staged_here:
            return 0  # nothing to add and nothing to replace: no empty part files
        tmp = directory / f".tmp-{os.getpid()}-{len(self._staged)}-{final.name}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        self._staged.append((tmp, final))
        self._staged_finals.add(final)
        self.rows_written[name] = self.rows_written.get(name, 0) + table.num_rows
        return table.num_rows

    def delete(self, name: str, part: str) -> None:
        self._deletes.append(self.lake.table_dir(name) / f"{part_name(part)}.parquet")

    def commit(self, *, refresh: bool = True) -> None:
        for path in self._deletes:
            if path not in self._staged_finals and path.exists():
                path.unlink()
        for tmp, final in self._staged:
            os.replace(tmp, final)
        self._staged.clear()
        self._staged_finals.clear()
        self._deletes.clear()
        if refresh:
            self.lake.refresh_catalog()

    def rollback(self) -> None:
        for tmp, _ in self._staged:
            if tmp.exists():
                tmp.unlink()
        self._staged.clear()
        self._staged_finals.clear()
        self._deletes.clear()


def remove_data_dir(path: Path) -> None:
    """Delete a data dir (used by tests and `medlake demo --fresh`)."""
    if path.exists():
        shutil.rmtree(path)
