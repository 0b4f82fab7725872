"""Privacy: allow-list de-identification, the Chinese PII scrubber, k-anonymity and the release scan.

Public API: ``ColumnRule`` / ``resolve_plan`` / ``load_action_set`` (the allow-list),
``ProjectKey`` (keyed pseudonyms and per-patient date shifts), ``Deidentifier`` (apply a plan to
Arrow tables, then reach k-anonymity), ``Scrubber`` (free text) and ``ReleaseScanner`` (the gate).
"""

from medlake.privacy.actions import ActionSet, ColumnRule, load_action_set, resolve_plan
from medlake.privacy.deidentify import Deidentifier, DeidReport, TableInput
from medlake.privacy.kanon import KAnonReport, smallest_class
from medlake.privacy.keys import ProjectKey
from medlake.privacy.recognisers import Span, valid_resident_id
from medlake.privacy.release_scan import Finding, KnownIdentifiers, ReleaseScanner, ScanResult
from medlake.privacy.scrubber import PatientContext, Scrubber

__all__ = [
    "ActionSet",
    "ColumnRule",
    "DeidReport",
    "Deidentifier",
    "Finding",
    "KAnonReport",
    "KnownIdentifiers",
    "PatientContext",
    "ProjectKey",
    "ReleaseScanner",
    "ScanResult",
    "Scrubber",
    "Span",
    "TableInput",
    "load_action_set",
    "resolve_plan",
    "smallest_class",
    "valid_resident_id",
]
