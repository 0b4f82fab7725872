"""What to generate (``SynthConfig``) and what was generated (``SynthSummary``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from medlake.errors import ValidationFailed

#: Patients generated (and written) per chunk. Part of the determinism contract together with the
#: seed (the CLI always uses this value); smaller chunks are for tests.
CHUNK_SIZE = 2000


@dataclass(frozen=True)
class SynthConfig:
    patients: int
    seed: int
    out: Path
    start_date: date = date(2018, 1, 1)
    end_date: date = date(2025, 12, 31)
    #: Upper bound on the DICOM files written (imaging studies beyond it get a report only).
    max_dicom_files: int | None = None
    #: Share of patients also seen (referred) at the partner hospital.
    partner_fraction: float = 0.04
    #: ``stream`` (own constant-memory writer, default) or ``openpyxl`` (write-only mode, slower).
    xlsx_engine: str = "stream"
    chunk_size: int = CHUNK_SIZE

    def __post_init__(self) -> None:
        if self.patients < 1:
            raise ValidationFailed("--patients must be at least 1")
        if self.seed < 0:
            raise ValidationFailed("--seed must be a non-negative integer")
        if (self.end_date - self.start_date).days < 730:
            raise ValidationFailed(
                "the date range must span at least two years (patients' care can last a year)",
                hint="Check --start-date/--end-date.",
            )
        if self.xlsx_engine not in ("stream", "openpyxl"):
            raise ValidationFailed(
                f"unknown xlsx engine {self.xlsx_engine!r}", hint="Use stream or openpyxl."
            )
        if not 1 <= self.chunk_size <= 100_000:
            raise ValidationFailed("chunk_size must be between 1 and 100,000")
        if not 0.0 <= self.partner_fraction <= 1.0:
            raise ValidationFailed("partner_fraction must be between 0 and 1")

    @property
    def dicom_cap(self) -> int:
        """The effective DICOM file cap: a few hundred files for 2,000 patients, at most 2,000 by default."""
        if self.max_dicom_files is not None:
            return self.max_dicom_files
        return min(2000, max(50, self.patients // 6))


@dataclass
class SynthSummary:
    patients: int = 0
    visits: int = 0
    diagnoses: int = 0
    drug_orders: int = 0
    drug_admins: int = 0
    operations: int = 0
    notes: int = 0
    lab_messages: int = 0
    lab_results: int = 0
    lis_files: int = 0
    imaging_studies: int = 0
    dicom_files: int = 0
    partner_bundles: int = 0
    files: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)
