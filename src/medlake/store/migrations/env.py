"""Alembic environment: always run with a connection handed in by ``medlake.store.migrate``."""

from __future__ import annotations

from alembic import context

from medlake.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the CLI always passes a connection
    raise RuntimeError("run migrations through `medlake db upgrade`")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
