"""The CDM lake: schema (defined once), Parquet storage with atomic swaps, the DuckDB catalog,
stable ids and vocabularies."""

from medlake.cdm.ids import stable_id, stable_id_sql
from medlake.cdm.lake import Lake
from medlake.cdm.schema import LOCAL_CONCEPT_ID_START, TABLES, arrow_schema, table

__all__ = ["LOCAL_CONCEPT_ID_START", "TABLES", "Lake", "arrow_schema", "stable_id", "stable_id_sql", "table"]
