"""The output files of a run, opened once and appended to chunk by chunk, in chunk order."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO

from medlake.synth.vocab import Vocab
from medlake.synth.writers.chunk import ChunkOutput
from medlake.synth.writers.his import DEPT_HEADER, HIS_CSV, OrderBooks
from medlake.synth.writers.lis import LisSpool
from medlake.synth.writers.truth import TRUTH_CSV

_TEXT_FILES: dict[str, tuple[str, list[str] | None]] = {
    **HIS_CSV,
    **TRUTH_CSV,
    "gold/notes_gold.jsonl": ("utf-8", None),
}


class OutputFiles:
    def __init__(self, out: Path, vocab: Vocab, xlsx_engine: str) -> None:
        self.out = out
        for d in ("his", "emr", "lis", "pacs", "partner/fhir", "gold", "truth"):
            (out / d).mkdir(parents=True, exist_ok=True)
        self._files: dict[str, IO[str]] = {}
        for key, (encoding, header) in _TEXT_FILES.items():
            f = self._open(key, encoding)
            if header:
                csv.writer(f).writerow(header)
        with open(out / "his" / "departments.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(DEPT_HEADER)
            w.writerows(sorted(vocab.departments.items()))
        self.books = OrderBooks(out / "his", xlsx_engine)
        self.lis = LisSpool(out)

    def _open(self, key: str, encoding: str) -> IO[str]:
        f = open(self.out / key, "w", encoding=encoding, newline="")  # noqa: SIM115 - closed in close()
        self._files[key] = f
        return f

    def append(self, chunk: ChunkOutput) -> None:
        for key in sorted(chunk.texts):
            f = self._files.get(key)
            if f is None:
                if not key.startswith("emr/notes-"):
                    raise KeyError(f"unexpected output {key}")
                f = self._open(key, "utf-8")
            f.write(chunk.texts[key])
        if chunk.order_xml:
            self.books.append_xml(chunk.order_xml, chunk.order_count)
        else:
            self.books.append(chunk.order_rows)
        self.lis.append(chunk.lis_weeks)

    def close(self) -> tuple[list[Path], int]:
        for f in self._files.values():
            f.close()
        return self.books.close(), self.lis.close()
