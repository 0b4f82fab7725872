"""Export formats: a small base class and a name → class registry (Parquet, CSV, Excel-friendly CSV)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from medlake.errors import ValidationFailed

UTF8_BOM = b"\xef\xbb\xbf"


class ExportFormat:
    name: ClassVar[str]
    suffix: ClassVar[str]

    def write(self, table: pa.Table, path: Path) -> None:
        raise NotImplementedError


class ParquetFormat(ExportFormat):
    name = "parquet"
    suffix = ".parquet"

    def write(self, table: pa.Table, path: Path) -> None:
        pq.write_table(table, path, compression="zstd")


class CsvFormat(ExportFormat):
    """UTF-8 CSV with a header row."""

    name = "csv"
    suffix = ".csv"
    bom = False

    def write(self, table: pa.Table, path: Path) -> None:
        with open(path, "wb") as fh:
            if self.bom:
                fh.write(UTF8_BOM)
            pacsv.write_csv(table, fh, write_options=pacsv.WriteOptions(include_header=True))


class ExcelCsvFormat(CsvFormat):
    """UTF-8 CSV with a byte-order mark, so Excel opens Chinese text correctly."""

    name = "csv-excel"
    bom = True


FORMATS: dict[str, type[ExportFormat]] = {f.name: f for f in (ParquetFormat, CsvFormat, ExcelCsvFormat)}


def get_format(name: str) -> ExportFormat:
    try:
        return FORMATS[name]()
    except KeyError:
        raise ValidationFailed(
            f"unknown export format {name!r}", hint=f"Known formats: {', '.join(FORMATS)}."
        ) from None
