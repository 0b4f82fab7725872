"""Reading tabular exports (CSV in any encoding, Excel) into records, record by record.

HIS exports arrive as UTF-8 (with or without BOM), GBK/GB18030 or Excel. The encoding is chosen
per file by which candidate decodes the most lines; a line that still does not decode is handed
back as a bad record with the byte offset, so its neighbours still land. Each record carries its
1-based line number (the header is line 1) for quarantine reasons.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_CANDIDATES = ("utf-8", "gb18030")


@dataclass(frozen=True)
class Record:
    line: int
    fields: list[str] | None
    raw: str
    error: str | None = None


def _split_lines(data: bytes) -> list[bytes]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in lines]


def choose_encoding(lines: list[bytes]) -> str:
    best, best_bad = _CANDIDATES[0], None
    sample = lines[:20000]
    for enc in _CANDIDATES:
        bad = 0
        for ln in sample:
            try:
                ln.decode(enc)
            except UnicodeDecodeError:
                bad += 1
        if best_bad is None or bad < best_bad:
            best, best_bad = enc, bad
        if bad == 0:
            break
    return best


def sniff_header(head: bytes) -> list[str]:
    """The header fields of a CSV file from its first bytes ([] if it does not look like CSV)."""
    lines = _split_lines(head[:65536])
    if not lines:
        return []
    first = lines[0]
    for enc in _CANDIDATES:
        try:
            text = first.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        return []
    try:
        return [f.strip() for f in next(csv.reader([text]))]
    except (csv.Error, StopIteration):
        return []


def read_csv_records(path: Path) -> tuple[list[str], str, Iterator[Record]]:
    """Header, chosen encoding and an iterator of records (bad ones carry ``error``)."""
    data = path.read_bytes()
    lines = _split_lines(data)
    if not lines:
        return [], "utf-8", iter(())
    encoding = choose_encoding(lines)
    header_text = lines[0].decode(encoding, errors="replace")
    header = [h.strip() for h in next(csv.reader([header_text]))]

    def records() -> Iterator[Record]:
        offset = len(lines[0]) + 1
        width = len(header)
        for lineno, ln in enumerate(lines[1:], start=2):
            start = offset
            offset += len(ln) + 1
            if not ln.strip():
                continue
            try:
                text = ln.decode(encoding)
            except UnicodeDecodeError as exc:
                yield Record(
                    lineno,
                    None,
                    ln.decode(encoding, errors="replace"),
                    f"undecodable bytes as {encoding} at byte {start + exc.start}",
                )
                continue
            try:
                row = next(csv.reader(io.StringIO(text)))
            except csv.Error as exc:
                yield Record(lineno, None, text, f"malformed CSV: {exc}")
                continue
            if len(row) != width:
                yield Record(lineno, None, text, f"expected {width} fields, found {len(row)}")
                continue
            yield Record(lineno, row, text)

    return header, encoding, records()


def read_xlsx_records(path: Path) -> tuple[list[str], Iterator[Record]]:
    """Header and records of the first sheet of an .xlsx workbook (values as text)."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    try:
        header_row = next(rows)
    except StopIteration:
        wb.close()
        return [], iter(())
    header = [str(h).strip() if h is not None else "" for h in header_row]
    while header and header[-1] == "":
        header.pop()

    def as_text(v: object) -> str:
        if v is None:
            return ""
        if hasattr(v, "strftime"):
            return v.strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[no-any-return]
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    def records() -> Iterator[Record]:
        width = len(header)
        try:
            for lineno, row in enumerate(rows, start=2):
                values = [as_text(v) for v in row]
                while len(values) > width and values[-1] == "":
                    values.pop()
                if not any(values):
                    continue
                raw = ",".join(values)
                if len(values) != width:
                    values = (values + [""] * width)[:width] if len(values) < width else values
                    if len(values) != width:
                        yield Record(lineno, None, raw, f"expected {width} cells, found {len(values)}")
                        continue
                yield Record(lineno, values, raw)
        finally:
            wb.close()

    return header, records()
