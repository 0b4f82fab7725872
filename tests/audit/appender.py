"""Child-process body for the multi-process append test (imported by spawned interpreters)."""

from __future__ import annotations

from pathlib import Path

from medlake import audit
from medlake.settings import Settings
from medlake.store import session_scope


def append_many(data_dir: str, database_url: str | None, worker: int, count: int) -> None:
    settings = Settings(data_dir=Path(data_dir), database_url=database_url)
    for i in range(count):
        with session_scope(settings) as s:
            audit.append(s, f"proc{worker}", "query", f"q:{i}", {"worker": worker})
