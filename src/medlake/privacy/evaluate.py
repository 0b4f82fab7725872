"""Measure the scrubber on stand-off identifier gold (the synthetic hospital's ``gold/notes_gold.jsonl``).

A gold span counts as caught when every one of its characters lies inside a span the scrubber
found (any type: a phone caught as part of an address is still not released). Recall is per gold
type; ``over_scrubbed`` is the share of scrubbed characters that no gold span covers (lost text).
The patient context of each note comes from the HIS registry (``his/patients.csv``), as in an
export, where the scrubber knows the cohort's registry names and identifiers.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from medlake.errors import InputNotFound
from medlake.privacy.scrubber import PatientContext, Scrubber


@dataclass
class TypeScore:
    gold: int = 0
    caught: int = 0

    @property
    def recall(self) -> float:
        return self.caught / self.gold if self.gold else 1.0


@dataclass
class Evaluation:
    notes: int = 0
    by_type: dict[str, TypeScore] = field(default_factory=dict)
    scrubbed_chars: int = 0
    over_scrubbed_chars: int = 0
    misses: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # (doc_id, type, text) for error analysis

    @property
    def over_scrubbed(self) -> float:
        return self.over_scrubbed_chars / self.scrubbed_chars if self.scrubbed_chars else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "notes": self.notes,
            "recall": {t: round(s.recall, 4) for t, s in sorted(self.by_type.items())},
            "gold": {t: s.gold for t, s in sorted(self.by_type.items())},
            "over_scrubbed": round(self.over_scrubbed, 4),
        }


def registry_contexts(synth_dir: Path) -> dict[str, PatientContext]:
    """Per HIS patient id: the registry name, resident id, phone and address."""
    path = synth_dir / "his" / "patients.csv"
    if not path.exists():
        raise InputNotFound(f"no HIS registry at {path}")
    out: dict[str, PatientContext] = {}
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            ctx = PatientContext()
            if row.get("姓名"):
                ctx.names.add(row["姓名"])
            for key in ("身份证号", "手机号", "登记号"):
                if row.get(key):
                    ctx.identifiers.add(row[key])
            if row.get("地址"):
                ctx.addresses.add(row["地址"])
            out[row["登记号"]] = ctx
    return out


def _notes(synth_dir: Path) -> Iterator[dict[str, object]]:
    for path in sorted((synth_dir / "emr").glob("notes-*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)


def evaluate(synth_dir: Path, *, scrubber: Scrubber | None = None, use_registry: bool = True) -> Evaluation:
    gold_path = synth_dir / "gold" / "notes_gold.jsonl"
    if not gold_path.exists():
        raise InputNotFound(f"no identifier gold at {gold_path}")
    gold: dict[str, list[dict[str, object]]] = {}
    with open(gold_path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                doc = json.loads(line)
                gold[doc["doc_id"]] = doc.get("phi", [])
    contexts = registry_contexts(synth_dir) if use_registry else {}
    scrubber = scrubber or Scrubber()
    ev = Evaluation()
    for note in _notes(synth_dir):
        doc_id = str(note["doc_id"])
        if doc_id not in gold:
            continue
        text = str(note["text"])
        ctx = contexts.get(str(note.get("patient_id")), PatientContext()) if use_registry else None
        spans, _ = scrubber.find(text, ctx)
        covered = bytearray(len(text))
        for s in spans:
            covered[s.start : s.end] = b"\x01" * (s.end - s.start)
        in_gold = bytearray(len(text))
        for g in gold[doc_id]:
            start, end, typ = int(g["start"]), int(g["end"]), str(g["type"])  # type: ignore[call-overload]
            in_gold[start:end] = b"\x01" * (end - start)
            score = ev.by_type.setdefault(typ, TypeScore())
            score.gold += 1
            if all(covered[start:end]):
                score.caught += 1
            else:
                ev.misses.append((doc_id, typ, text[max(0, start - 8) : end + 8]))
        ev.scrubbed_chars += sum(covered)
        ev.over_scrubbed_chars += sum(1 for c, g in zip(covered, in_gold, strict=True) if c and not g)
        ev.notes += 1
    return ev
