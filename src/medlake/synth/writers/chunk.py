"""What one chunk of patients produces: text to append to each output file, workbook rows and
HL7 messages by week. Built in a worker (or in-process), appended in chunk order by the writer."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ChunkOutput:
    index: int
    patients: int
    texts: dict[str, str] = field(default_factory=dict)  # relative path -> text to append
    order_rows: list[list[str]] = field(default_factory=list)  # openpyxl engine
    order_xml: str = ""  # stream engine: the rows already rendered
    order_count: int = 0
    lis_weeks: dict[str, tuple[str, int]] = field(default_factory=dict)  # yyyymmdd -> (messages, count)
    counts: Counter[str] = field(default_factory=Counter)


class ChunkBuffers:
    """In-memory text buffers keyed by output path, with CSV writers over them."""

    def __init__(self) -> None:
        self._bufs: dict[str, io.StringIO] = {}
        self._csv: dict[str, Any] = {}

    def text(self, key: str) -> io.StringIO:
        buf = self._bufs.get(key)
        if buf is None:
            buf = self._bufs[key] = io.StringIO()
        return buf

    def csv(self, key: str) -> Any:
        w = self._csv.get(key)
        if w is None:
            w = self._csv[key] = csv.writer(self.text(key))
        return w

    def texts(self) -> dict[str, str]:
        return {k: v.getvalue() for k, v in self._bufs.items()}
