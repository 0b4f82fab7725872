"""Every source connector module, imported for its ``@register`` side effect on the registry.

The runner imports this module once before detecting file kinds; add one line per connector module.
"""

from __future__ import annotations

from medlake.ingest import dicom as dicom  # noqa: F401  PACS DICOM headers (batch: one row per series)
from medlake.ingest import emr as emr  # noqa: F401  EMR notes (JSON lines)
from medlake.ingest import fhir as fhir  # noqa: F401  partner FHIR R4 bundles and bulk NDJSON
from medlake.ingest import his as his  # noqa: F401  HIS exports (CSV any encoding, Excel)
from medlake.ingest import hl7v2 as hl7v2  # noqa: F401  LIS HL7 v2 (ORU^R01, ADT)
