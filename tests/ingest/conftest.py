"""Fixtures for the ingest tests; the connector helpers live in ``connector_helpers``."""

from __future__ import annotations

from tests.ingest.connector_helpers import rows, run_connector, source_file

__all__ = ["rows", "run_connector", "source_file"]
