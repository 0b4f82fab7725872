"""Annotated corpora for training and evaluation: Yidu-S4K JSONL, CCKS 2017 folders, medlake JSONL.

Every reader yields ``Document(doc_id, text, spans)`` with end-exclusive offsets and the Chinese
entity types of ``medlake.nlp.types``. CCKS 2017's 检查和检验 is split into 影像检查/实验室检验 and
治疗 into 手术/药物 by the same hints the PyCMeKG loader uses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from medlake.errors import InputFormatError, InputNotFound
from medlake.nlp.lexicon import _exam_type
from medlake.nlp.types import ANATOMY, DISEASE, DRUG, ENTITY_TYPES, LAB, OPERATION, SYMPTOM, Span

FORMATS = ("yidu", "ccks2017", "medlake")


@dataclass
class Document:
    doc_id: str
    text: str
    spans: list[Span] = field(default_factory=list)


def _check_span(doc_id: str, text: str, start: int, end: int, label: str) -> Span:
    if not (0 <= start < end <= len(text)):
        raise InputFormatError(f"{doc_id}: entity offsets {start}-{end} outside the text")
    if label not in ENTITY_TYPES:
        raise InputFormatError(f"{doc_id}: unknown entity type {label!r}")
    return Span(start, end, label)


def read_yidu(path: Path) -> Iterator[Document]:
    """Yidu-S4K: one JSON object per line with ``originalText`` and ``entities`` (end exclusive)."""
    with open(path, encoding="utf-8-sig") as fh:
        for n, line in enumerate(fh):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                text = obj["originalText"]
                ents = obj.get("entities", [])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InputFormatError(f"{path}:{n + 1}: not a Yidu-S4K record ({exc})") from exc
            doc_id = str(n)
            spans = [_check_span(doc_id, text, e["start_pos"], e["end_pos"], e["label_type"]) for e in ents]
            yield Document(doc_id, text, spans)


_CCKS_TYPES = {"身体部位": ANATOMY, "症状和体征": SYMPTOM, "疾病和诊断": DISEASE}


def _ccks_label(label: str, term: str) -> str:
    if label in _CCKS_TYPES:
        return _CCKS_TYPES[label]
    if label == "检查和检验":
        return _exam_type(term) or LAB
    if label == "治疗":
        return OPERATION if term.endswith("术") else DRUG
    raise InputFormatError(f"unknown CCKS 2017 entity type {label!r}")


def read_ccks2017(root: Path) -> Iterator[Document]:
    """CCKS 2017 task 2: ``<name>.txtoriginal.txt`` texts beside ``<name>.txt`` (term, start, end incl., type)."""
    for text_path in sorted(root.rglob("*.txtoriginal.txt")):
        ann_path = text_path.with_name(text_path.name.replace(".txtoriginal.txt", ".txt"))
        text = text_path.read_text("utf-8-sig").rstrip("\r\n")
        spans: list[Span] = []
        if ann_path.exists():
            for line in ann_path.read_text("utf-8-sig").splitlines():
                parts = line.split("\t")
                if len(parts) != 4:
                    continue
                term, start, end, label = parts
                span = _check_span(text_path.name, text, int(start), int(end) + 1, _ccks_label(label, term))
                spans.append(span)
        yield Document(str(text_path.relative_to(root)), text, spans)


def _synth_texts(gold_path: Path) -> dict[str, str]:
    """Note texts beside a synthetic hospital's gold file (``<out>/emr/notes-*.jsonl``), by doc_id."""
    texts: dict[str, str] = {}
    for path in sorted((gold_path.parent.parent / "emr").glob("notes-*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                obj = json.loads(line)
                texts[str(obj["doc_id"])] = obj["text"]
    return texts


def read_medlake(path: Path) -> Iterator[Document]:
    """medlake JSONL: ``{"doc_id", "text", "entities": [{"type", "start", "end"}]}`` per line.

    A synthetic hospital's ``gold/notes_gold.jsonl`` (no text) works too: the texts are taken from
    the ``emr/`` folder beside it.
    """
    texts: dict[str, str] | None = None
    with open(path, encoding="utf-8-sig") as fh:
        for n, line in enumerate(fh):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                doc_id = str(obj.get("doc_id", n))
                if "text" in obj:
                    text = obj["text"]
                else:
                    texts = _synth_texts(path) if texts is None else texts
                    text = texts[doc_id]
                spans = [
                    _check_span(doc_id, text, e["start"], e["end"], e["type"])
                    for e in obj.get("entities", [])
                ]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InputFormatError(f"{path}:{n + 1}: not a medlake record ({exc})") from exc
            yield Document(doc_id, text, spans)


def read_corpus(path: Path, fmt: str) -> list[Document]:
    if not path.exists():
        raise InputNotFound(f"corpus not found: {path}")
    if fmt == "yidu":
        return list(read_yidu(path))
    if fmt == "ccks2017":
        return list(read_ccks2017(path))
    if fmt == "medlake":
        return list(read_medlake(path))
    raise InputFormatError(f"unknown corpus format {fmt!r}", hint=f"Use one of: {', '.join(FORMATS)}.")
