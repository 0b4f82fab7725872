"""出院小结 (discharge summary): stay dates, admission reason, course (operations, treatment,
complications), discharge diagnoses and discharge medication."""

from __future__ import annotations

from datetime import datetime

from medlake.synth.notes.admission import chief_pieces
from medlake.synth.notes.pieces import NoteCtx, date_piece, dx_ent, identifiers, words
from medlake.synth.notes.textbuild import Doc, Ent, Phi, Piece
from medlake.synth.rand import pick


def discharge_note(ctx: NoteCtx, when: datetime) -> Doc:
    r = ctx.rng
    v = ctx.visit
    f = v.facts
    doc = Doc()
    ids = identifiers(ctx)
    assert v.end is not None
    days = max(1, (v.end.date() - v.start.date()).days)
    doc.say(r, "dis.header", name=ids["name"], sex=ids["sex"], age=ids["age"], vno=ids["vno"],
            admit=date_piece(r, v.start.date()), discharge=date_piece(r, v.end.date()), days=str(days))  # fmt: skip
    if f.get("story") == "common":
        chief: Piece = chief_pieces(str(f["chief"]), words(f, "sym"))
    elif v.diagnoses:
        chief = dx_ent(ctx.vocab, v.diagnoses[0].key)
    else:
        chief = "病情需要"
    doc.say(r, "dis.adm", chief=chief)
    doc.say(r, "dis.course")
    doc.t("入院后完善相关检查，")
    for op in v.operations:
        if op.key == "chemo":
            continue
        doc.t("于")
        doc.emit(date_piece(r, op.day))
        doc.t(f"在{op.anesthesia}下行")
        doc.ent(Ent(op.name, "O"))
        doc.t("，")
    drugs = [o for o in v.orders][:3]
    if drugs:
        doc.t("予")
        for i, o in enumerate(drugs):
            if i:
                doc.t("、")
            doc.ent(Ent(o.name, "M"))
        doc.t("等治疗，")
    if f.get("shock"):
        doc.t("住院期间出现")
        doc.ent(dx_ent(ctx.vocab, "burn_shock"))
        doc.t("，经积极液体复苏后纠正，")
    doc.t("病情好转。")
    doc.say(r, "dis.out")
    doc.say(r, "dis.dx")
    for i, d in enumerate(v.diagnoses, start=1):
        doc.t(f"{i}.")
        doc.ent(Ent(d.name, "D", "p", d.code))
        doc.t("\n")
    doc.say(r, "dis.advice")
    n = 0
    for o in drugs[:2]:
        if o.route in ("口服", "皮下注射"):
            n += 1
            doc.t(f"{n}.")
            doc.ent(Ent(o.name, "M", "p", None, o.dose, o.unit))
            doc.t(f" {o.dose}{o.unit} {o.route} {o.freq}\n")
    doc.say(r, "dis.follow", n=str(n + 1), when=pick(r, ["1周后", "2周后", "1月后", "术后1月"]))
    doc.say(r, "sign", doctor=Phi(ctx.doctor, "NAME"), date=date_piece(r, when.date()))
    return doc
