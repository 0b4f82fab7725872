"""Ingestion: capture every source file into the raw zone, detect its kind by content, parse it
with its connector and land CDM rows; bad records are quarantined with their reason.

Public API: ``ingest_path(lake, dir)`` (the runner), ``Connector`` / ``register`` (the connector
contract) and ``CONNECTORS`` (the registry)."""

from medlake.ingest.base import CONNECTORS, Connector, IngestContext, SourceFile, person_id_for, register

__all__ = ["CONNECTORS", "Connector", "IngestContext", "SourceFile", "person_id_for", "register"]
