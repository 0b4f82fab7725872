"""Chinese clinical notes consistent with each patient's structured facts, with gold annotations.

``compose_notes`` writes, for every inpatient stay, an admission record, operation notes,
progress notes, pathology reports and a discharge summary, and an imaging report for every
imaging study (any visit), each with its stand-off gold annotations.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from medlake.synth.clinical.base import PHYSICIANS, Counters
from medlake.synth.model import Note, Patient, Visit
from medlake.synth.notes.admission import admission_note
from medlake.synth.notes.course import operation_note, progress_note
from medlake.synth.notes.discharge import discharge_note
from medlake.synth.notes.pieces import NoteCtx
from medlake.synth.notes.reports import imaging_report, pathology_report
from medlake.synth.notes.textbuild import Doc
from medlake.synth.rand import pick
from medlake.synth.vocab import Vocab

TITLES = {
    "入院记录": ["入院记录", "住院病历", "入院记录（首次）"],
    "出院小结": ["出院小结", "出院记录"],
    "手术记录": ["手术记录"],
    "病程记录": ["病程记录", "日常病程记录"],
    "病理报告": ["病理诊断报告", "病理报告"],
    "影像报告": ["影像诊断报告", "放射科检查报告", "超声检查报告"],
}


def _clamp(v: Visit, t: datetime) -> datetime:
    if v.end is not None and t > v.end:
        return v.end - timedelta(minutes=30)
    return t


def _progress_plan(v: Visit) -> list[tuple[datetime, str]]:
    f = v.facts
    story = f.get("story")
    ops = [o for o in v.operations if o.key != "chemo"]
    if story == "tapvc":
        return [
            (
                datetime.combine(ops[0].day + timedelta(days=1), datetime.min.time()) + timedelta(hours=9),
                "tapvc",
            )
        ]
    if story == "burn":
        shock = f.get("shock")
        t = shock + timedelta(minutes=30) if isinstance(shock, datetime) else v.start + timedelta(hours=12)
        return [(t, "burn")]
    if story == "chemo":
        return [(v.start + timedelta(hours=4), "chemo")]
    if ops:
        return [(ops[0].start + timedelta(days=n, hours=2), "postop") for n in (1, 3)]
    return [(v.start + timedelta(days=1, hours=2), "medical")]


def compose_notes(patient: Patient, vocab: Vocab, rng: random.Random, counters: Counters) -> list[Note]:
    """All notes of one patient, in time order, with doc ids from ``counters``."""
    drafts: list[tuple[datetime, str, Visit, Doc, str, str | None]] = []
    for v in patient.visits:
        doctor = pick(rng, PHYSICIANS)
        ctx = NoteCtx(vocab, rng, patient, v, doctor)
        if v.kind == "住院" and v.facts:
            t = _clamp(v, v.start + timedelta(hours=rng.uniform(1, 6)))
            drafts.append((t, "入院记录", v, admission_note(ctx, t), doctor, None))
            for op in v.operations:
                if op.key == "chemo":
                    continue
                t = op.start + timedelta(hours=rng.uniform(2, 4))
                drafts.append((t, "手术记录", v, operation_note(ctx, op, t), op.surgeon, None))
            for t, kind in _progress_plan(v):
                t = _clamp(v, t)
                drafts.append((t, "病程记录", v, progress_note(ctx, t, kind), doctor, None))
            if v.facts.get("pathology") and v.operations:
                t = _clamp(v, v.operations[0].start + timedelta(days=3, hours=rng.uniform(1, 6)))
                pctx = NoteCtx(vocab, rng, patient, v, pick(rng, PHYSICIANS))
                path_no = f"B{t.year}{v.visit_no[-6:]}"
                drafts.append((t, "病理报告", v, pathology_report(pctx, path_no, t), pctx.doctor, None))
            assert v.end is not None
            drafts.append((v.end, "出院小结", v, discharge_note(ctx, v.end), doctor, None))
        for s in v.imaging:
            t = s.time + timedelta(hours=rng.uniform(0.5, 3))
            ictx = NoteCtx(vocab, rng, patient, v, pick(rng, PHYSICIANS))
            drafts.append((t, "影像报告", v, imaging_report(ictx, s), ictx.doctor, s.accession))
    drafts.sort(key=lambda d: d[0])
    notes: list[Note] = []
    for t, doc_type, v, doc, author, acc in drafts:
        counters.doc += 1
        doc_id = f"D{counters.doc:010d}"
        t = t.replace(microsecond=0)
        notes.append(
            Note(
                doc_id,
                v.visit_no,
                doc_type,
                t,
                pick(rng, TITLES[doc_type]),
                doc.text(),
                author,
                acc,
                doc.gold(doc_id, t.date()),
            )  # fmt: skip
        )
    return notes
