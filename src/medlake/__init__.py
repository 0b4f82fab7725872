"""medlake: an open-source research data center for hospitals.

Sources (HIS, EMR, LIS, PACS, partner FHIR) are captured into an immutable raw zone, parsed,
linked and standardised into an OMOP-CDM-shaped lake (Parquet + DuckDB), and from there feed
cohorts, datasets, models and decision support. Packages are split by feature:
``cdm`` (schema and lake storage), ``ingest`` (connectors), ``synth`` (synthetic hospital),
``store`` (application database), ``cli`` (the ``medlake`` command).
"""

__version__ = "0.1.0"
