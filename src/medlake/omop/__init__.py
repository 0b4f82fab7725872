"""OMOP CDM interoperability: bring an existing OMOP CDM (DuckDB file or CSV folder) into a lake."""

from medlake.omop.importer import ImportReport, import_omop

__all__ = ["ImportReport", "import_omop"]
