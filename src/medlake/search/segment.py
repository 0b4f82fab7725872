"""One immutable index segment: the notes of (a slice of) one lake part, as memory-mapped arrays.

A segment directory is written once, aside, and never changed. Its notes are numbered 0..n-1 in
result order (``note_date`` descending, nulls last, then ``note_id``), so the first hits of a
segment are its best ones. Files:

- ``grams.npy``   sorted bigram codes (uint64, see :mod:`medlake.search.text`);
- ``offsets.npy`` where each bigram's postings start in ``keys.npy`` (int64, one more than grams);
- ``keys.npy``    positional postings ``doc * stride + position``, sorted within each bigram (uint32
  when it fits, else uint64); ``doc = key // stride``. ``stride`` is the longest text plus two, so
  no phrase can run from one note into the next;
- ``note_id.npy`` / ``date.npy`` note id (int64) and date (int32 days, nulls lowest) per doc;
- ``docs.arrow``  the notes themselves (id, person, date, title, type, text), Arrow IPC, zstd,
  small record batches so a page of snippets decompresses a few kilobytes per hit;
- ``meta.json``   counts, stride and format version.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from medlake.search.text import CODE_SHIFT, END, fold_codes

FORMAT = 1
BATCH_ROWS = 128
NULL_DATE = np.iinfo(np.int32).min
DOC_COLUMNS = ["note_id", "person_id", "note_date", "note_title", "note_source_value", "note_text"]


def _doc_table(batch: pa.Table) -> pa.Table:
    """Notes with an id and a text, in result order, with the columns snippets need."""
    cols = {}
    for name in DOC_COLUMNS:
        if name in batch.column_names:
            cols[name] = batch.column(name)
        else:
            cols[name] = pa.nulls(batch.num_rows, pa.date32() if name == "note_date" else pa.string())
    table = pa.table(
        {
            "note_id": pc.cast(cols["note_id"], pa.int64()),
            "person_id": pc.cast(cols["person_id"], pa.int64()),
            "note_date": pc.cast(cols["note_date"], pa.date32()),
            "note_title": pc.cast(cols["note_title"], pa.string()),
            "note_source_value": pc.cast(cols["note_source_value"], pa.string()),
            "note_text": pc.cast(cols["note_text"], pa.string()),
        }
    )
    keep = pc.and_(pc.is_valid(table.column("note_id")), pc.is_valid(table.column("note_text")))
    table = table.filter(keep)
    order = pc.sort_indices(
        table, sort_keys=[("note_date", "descending", "at_end"), ("note_id", "ascending", "at_end")]
    )
    return table.take(order)


def _postings(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(grams, offsets, keys, stride) of the positional bigram postings of ``texts`` (docs 0..n-1)."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    total = int(lengths.sum())
    stride = int(lengths.max(initial=0)) + 2
    if total == 0:
        return np.zeros(0, np.uint64), np.zeros(1, np.int64), np.zeros(0, np.uint32), stride
    chars = fold_codes(np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32))
    ends = np.cumsum(lengths)
    second = np.empty_like(chars)
    second[:-1] = chars[1:]
    second[ends[lengths > 0] - 1] = END  # a text's last character pairs with the end marker
    docs = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    pos = np.arange(total, dtype=np.int64) - np.repeat(ends - lengths, lengths)
    key_dtype = np.uint32 if len(texts) * stride < 2**32 else np.uint64
    keys = (docs * stride + pos).astype(key_dtype)
    del docs, pos
    # dense character ids make each bigram a small integer; one sort of (bigram, place) orders the postings
    present = np.zeros(0x110000, dtype=bool)
    present[chars] = True
    present[END] = True
    alphabet = np.flatnonzero(present).astype(np.uint64)
    dense = np.cumsum(present, dtype=np.int64) - 1
    n_chars = len(alphabet)
    gram = dense[chars] * n_chars + dense[second]
    del second
    if n_chars * n_chars * total < 2**63:
        combined = np.sort(gram * total + np.arange(total, dtype=np.int64))
        sorted_gram, place = np.divmod(combined, total)
        del combined
    else:  # an enormous alphabet: a stable sort keeps places in order within a bigram
        place = np.argsort(gram, kind="stable")
        sorted_gram = gram[place]
    keys = keys[place]
    starts = np.flatnonzero(np.diff(sorted_gram, prepend=-1))
    g = sorted_gram[starts]
    grams = (alphabet[g // n_chars] << np.uint64(CODE_SHIFT)) | alphabet[g % n_chars]
    offsets = np.append(starts, total).astype(np.int64)
    return grams, offsets, keys, stride


def write_segment(directory: Path, batch: pa.Table, *, part: str) -> int:
    """Index ``batch`` (rows of the note table) into the new directory ``directory``; returns the note count."""
    table = _doc_table(batch)
    texts = table.column("note_text").to_pylist()
    grams, offsets, keys, stride = _postings(texts)
    directory.mkdir(parents=True)
    np.save(directory / "grams.npy", grams)
    np.save(directory / "offsets.npy", offsets)
    np.save(directory / "keys.npy", keys)
    np.save(directory / "note_id.npy", table.column("note_id").to_numpy().astype(np.int64))
    days = pc.fill_null(pc.cast(table.column("note_date"), pa.int32()), int(NULL_DATE))
    np.save(directory / "date.npy", days.to_numpy().astype(np.int32))
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with (
        pa.OSFile(str(directory / "docs.arrow"), "wb") as sink,
        pa.ipc.new_file(sink, table.schema, options=options) as writer,
    ):
        for rb in table.to_batches(max_chunksize=BATCH_ROWS):
            writer.write_batch(rb)
    meta = {"format": FORMAT, "part": part, "docs": table.num_rows, "stride": stride, "postings": len(keys)}
    (directory / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    for name in os.listdir(directory):  # durable before the manifest points at it
        fd = os.open(directory / name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return table.num_rows


@dataclass
class Segment:
    """A read-only view of one segment directory (arrays memory-mapped, nothing read eagerly)."""

    name: str
    n: int
    stride: int
    grams: np.ndarray
    offsets: np.ndarray
    keys: np.ndarray
    note_id: np.ndarray
    date: np.ndarray
    docs: pa.ipc.RecordBatchFileReader
    docs_file: pa.MemoryMappedFile
    keys_file: BinaryIO  # postings are read with pread: one large sequential read per bigram
    dead: np.ndarray | None = None  # docs shadowed by a newer copy of the same note elsewhere

    @classmethod
    def open(cls, directory: Path, dead: np.ndarray | None = None) -> Segment:
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"unknown index segment format {meta.get('format')!r}")

        def arr(name: str) -> np.ndarray:
            return np.load(directory / f"{name}.npy", mmap_mode="r")

        docs_file = pa.memory_map(str(directory / "docs.arrow"), "r")
        return cls(
            name=directory.name,
            n=int(meta["docs"]),
            stride=int(meta["stride"]),
            grams=arr("grams"),
            offsets=arr("offsets"),
            keys=arr("keys"),
            note_id=arr("note_id"),
            date=arr("date"),
            docs=pa.ipc.open_file(docs_file),
            docs_file=docs_file,
            keys_file=open(directory / "keys.npy", "rb"),  # noqa: SIM115 - closed by close()
            dead=dead,
        )

    def close(self) -> None:
        self.keys_file.close()
        self.docs_file.close()

    def _postings(self, a: int, b: int) -> np.ndarray:
        """keys[a:b] read into memory (a memory map would fault page by page on a cold cache)."""
        if b <= a:
            return self.keys[:0]
        size = self.keys.dtype.itemsize
        start = int(getattr(self.keys, "offset", 0)) + a * size  # the .npy header length
        buf = os.pread(self.keys_file.fileno(), (b - a) * size, start)
        return np.frombuffer(buf, dtype=self.keys.dtype)

    # -- postings -------------------------------------------------------------------------------
    def gram_keys(self, code: int) -> np.ndarray:
        i = int(np.searchsorted(self.grams, np.uint64(code)))
        if i < len(self.grams) and int(self.grams[i]) == code:
            return self._postings(int(self.offsets[i]), int(self.offsets[i + 1]))
        return self.keys[:0]

    def range_keys(self, lo: int, hi: int) -> np.ndarray:
        """Postings of all bigrams with codes in [lo, hi) — one contiguous slice."""
        a = int(np.searchsorted(self.grams, np.uint64(lo)))
        b = int(np.searchsorted(self.grams, np.uint64(hi)))
        return self._postings(int(self.offsets[a]), int(self.offsets[b]))

    def docs_mask(self, keys: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.n, dtype=bool)
        if len(keys):
            mask[keys // keys.dtype.type(self.stride)] = True
        return mask

    def row(self, doc: int) -> dict[str, Any]:
        batch = self.docs.get_batch(doc // BATCH_ROWS)
        return {name: batch.column(name)[doc % BATCH_ROWS].as_py() for name in DOC_COLUMNS}
