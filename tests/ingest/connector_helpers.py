"""Helpers for connector tests: run one connector on one file (or a batch) against a real lake.

Imported by tests as ``tests.ingest.connector_helpers``; ``conftest`` re-exports them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from medlake.cdm.lake import Lake
from medlake.cdm.vocab import ConceptRegistry
from medlake.ingest.base import Connector, IngestContext, SourceFile


def source_file(path: Path, kind: str, rel: str | None = None) -> SourceFile:
    data = path.read_bytes()
    return SourceFile(
        path=path,
        rel=rel or path.name,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        kind=kind,
    )


def run_connector(
    connector_cls: type[Connector], path: Path | list[Path], data_dir: Path, *, root: Path | None = None
) -> list[IngestContext]:
    """Ingest ``path`` (or, for batch connectors, the list of paths) in one lake transaction.

    Returns the contexts (one per file) with their stats; rel paths are relative to ``root``
    when given (so parts of files with the same name in different folders do not collide).
    """
    lake = Lake(data_dir)
    lake.ensure()
    paths = path if isinstance(path, list) else [path]
    srcs = [source_file(p, connector_cls.kind, str(p.relative_to(root)) if root else None) for p in paths]
    contexts: list[IngestContext] = []
    registry = ConceptRegistry(lake)
    with lake.transaction() as tx:
        connector = connector_cls()
        setattr(connector, "registry", registry)  # noqa: B010 - as the runner does
        if getattr(connector_cls, "batch", False):

            def make_ctx(s: SourceFile) -> IngestContext:
                ctx = IngestContext(lake, tx, "test-run", s)
                contexts.append(ctx)
                return ctx

            connector.ingest_batch(make_ctx, srcs)  # type: ignore[attr-defined]
        else:
            for src in srcs:
                ctx = IngestContext(lake, tx, "test-run", src)
                contexts.append(ctx)
                connector.ingest(ctx)
        registry.flush(tx)
        for ctx in contexts:
            ctx.finish()
    return contexts


def rows(data_dir: Path, table: str, where: str = "true") -> list[dict[str, Any]]:
    con = Lake(data_dir).connect()
    try:
        return con.sql(f'SELECT * FROM "{table}" WHERE {where}').to_arrow_table().to_pylist()
    finally:
        con.close()
