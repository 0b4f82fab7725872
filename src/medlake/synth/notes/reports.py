"""Imaging reports (影像报告, carrying the study's accession number) and pathology reports (病理报告)."""

from __future__ import annotations

from datetime import datetime

from medlake.synth.model import ImagingStudy
from medlake.synth.notes.pieces import NoteCtx, date_piece, identifiers, size_of
from medlake.synth.notes.textbuild import Doc, Ent, Phi, Piece
from medlake.synth.rand import pick


def finding_slots(ctx: NoteCtx, finding: str) -> dict[str, Piece]:
    """Values the findings/impression phrases of ``finding`` need, consistent with the patient."""
    r = ctx.rng
    h = ctx.patient.history
    side = str(h.get("side", "左"))
    a, b = size_of(h)
    slots: dict[str, Piece] = {
        "side": side,
        "sideb": Ent(f"{side}乳", "A"),
        "type": str(h.get("tapvc_type", "心上型")),
        "ef": f"{r.randint(55, 70)}%",
        "d": f"{r.randint(5, 18)}mm",
        "v": f"{r.uniform(1.6, 2.8):.1f}m/s"
        if finding in ("tapvc_obstructed", "pv_stenosis")
        else f"{r.uniform(0.6, 1.2):.1f}m/s",
    }
    if finding == "cervix_mass":
        a, b = r.randint(22, 45), r.randint(18, 35)
    sep = pick(r, ["*", "×", "x"])
    slots["size"] = f"{a}{sep}{b}mm"
    return slots


def impression(doc: Doc, ctx: NoteCtx, study: ImagingStudy) -> None:
    doc.say(ctx.rng, f"imp.{study.finding}", **finding_slots(ctx, study.finding))


def imaging_report(ctx: NoteCtx, study: ImagingStudy) -> Doc:
    r = ctx.rng
    exam = ctx.vocab.imaging[study.key]
    doc = Doc()
    ids = identifiers(ctx)
    doc.say(
        r, "img.header", acc=Phi(study.accession, "ACCESSION"), exam=Ent(exam.exam, "I"), name=ids["name"],
        sex=ids["sex"], age=ids["age"], mrn=ids["mrn"], date=date_piece(r, study.time.date()),
    )  # fmt: skip
    doc.say(r, "img.findings")
    slots = finding_slots(ctx, study.finding)
    doc.say(r, f"find.{study.finding}", **slots)
    doc.say(r, "img.impression")
    doc.say(r, f"imp.{study.finding}", **slots)
    doc.say(r, "sign", doctor=Phi(ctx.doctor, "NAME"), date=date_piece(r, study.time.date()))
    return doc


def _breast_pathology(doc: Doc, ctx: NoteCtx) -> None:
    r = ctx.rng
    h = ctx.patient.history
    side = str(h["side"])
    a, b = size_of(h)
    grade = pick(r, ["Ⅰ", "Ⅱ", "Ⅱ", "Ⅲ"])
    doc.t(f"标本：{side}侧乳腺切除标本及腋窝淋巴结。\n病理诊断：（{side}乳）")
    doc.ent(Ent("浸润性导管癌", "D", "p", "C50.900"))
    dims = f"{a / 10:.1f}×{b / 10:.1f}×{max(b - 3, 5) / 10:.1f}"
    doc.t(f"，{grade}级，")
    doc.ent(Ent("肿块", "S", "p", None, dims, "cm"))
    doc.t(f"大小{dims}cm；")
    nodes = ctx.visit.operations[0].details.get("nodes", 0) if ctx.visit.operations else 0
    doc.t(f"腋窝淋巴结{nodes}/{r.randint(12, 22)}枚见癌转移。\n免疫组化：")
    er = f"+，{h['er_pct']}%强" if h["er"] else "-"
    pr = f"+，{h['pr_pct']}%中等" if h["pr"] else "-"
    items: list[tuple[str, str]] = [
        ("ER", er),
        ("PR", pr),
        ("HER2", str(h["her2_ihc"])),
        ("Ki-67", f"约{h['ki67']}%+"),
    ]
    for i, (label, val) in enumerate(items):
        if i:
            doc.t("，")
        doc.ent(
            Ent(
                label,
                "L",
                "p",
                None,
                val.replace("约", "").replace("+", "") if label == "Ki-67" else val,
                "%" if label == "Ki-67" else None,
            )
        )
        doc.t(f"（{val}）")
    doc.t("。")
    if h["her2_fish"] is not None:
        doc.t("\nFISH检测：")
        doc.ent(Ent("HER2基因", "L", "p", None, "扩增" if h["her2_fish"] else "无扩增"))
        doc.t("扩增（HER2/CEP17比值 2.6）。" if h["her2_fish"] else "无扩增（HER2/CEP17比值 1.3）。")
    if h["er"] and h["pr"] and h["her2"]:
        doc.t(
            pick(
                r,
                [
                    "\n分子分型：三阳性（Luminal B，HER2阳性型）。",
                    "\n备注：ER、PR、HER2均阳性（三阳性乳腺癌）。",
                ],
            )
        )
    elif not h["er"] and not h["pr"] and not h["her2"]:
        doc.t("\n分子分型：三阴性乳腺癌。")


def _cervical_pathology(doc: Doc, ctx: NoteCtx) -> None:
    r = ctx.rng
    h = ctx.patient.history
    doc.t("标本：广泛子宫+双附件+盆腔淋巴结。\n病理诊断：宫颈")
    doc.ent(Ent(str(h["histology"]), "D", "p", "C53.900"))
    nodes = ctx.visit.operations[0].details.get("nodes", 0) if ctx.visit.operations else 0
    doc.t(
        f"，{pick(r, ['中分化', '中-低分化', '高分化'])}，浸润深度约{r.randint(5, 15)}mm（>1/2肌层）；"
        f"脉管内癌栓（{'+' if r.random() < 0.3 else '-'}）；双侧宫旁及阴道切缘未见癌累及；"
        f"盆腔淋巴结{nodes}/{r.randint(18, 30)}枚见癌转移。FIGO分期：{h['stage']}期。"
    )


def pathology_report(ctx: NoteCtx, path_no: str, when: datetime) -> Doc:
    r = ctx.rng
    doc = Doc()
    ids = identifiers(ctx)
    doc.say(
        r, "path.header", path_no=Phi(path_no, "ACCESSION"), name=ids["name"], sex=ids["sex"], age=ids["age"],
        vno=ids["vno"], date=date_piece(r, when.date()),
    )  # fmt: skip
    if ctx.patient.history.get("story") == "breast":
        _breast_pathology(doc, ctx)
    else:
        _cervical_pathology(doc, ctx)
    doc.say(r, "sign", doctor=Phi(ctx.doctor, "NAME"), date=date_piece(r, when.date()))
    return doc
