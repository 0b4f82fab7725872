"""Datasets and safe exports: a typed dataset specification, its SQL over the lake, the request and
approval workflow, and the de-identified, scanned, manifest-signed package.

Public API: ``DatasetSpec`` (the specification), ``DatasetCatalog`` (versions saved in a project),
``build_dataset`` / ``deidentify_dataset`` / ``preview`` (the builder), ``release`` (build → package →
release scan → swap) and ``ExportWorkflow`` (request → approve/reject → build → download → expire).
Web pages live in ``medlake.export.web`` (plugged in through ``medlake.web.features``).
"""

from medlake.export.builder import BuiltDataset, build_dataset, build_from_lake, deidentify_dataset, preview
from medlake.export.catalog import DatasetCatalog, SavedSpec, parse_spec
from medlake.export.pipeline import release
from medlake.export.spec import DatasetSpec
from medlake.export.workflow import CURRENT_DUA, ExportWorkflow

__all__ = [
    "CURRENT_DUA",
    "BuiltDataset",
    "DatasetCatalog",
    "DatasetSpec",
    "ExportWorkflow",
    "SavedSpec",
    "build_dataset",
    "build_from_lake",
    "deidentify_dataset",
    "parse_spec",
    "preview",
    "release",
]
