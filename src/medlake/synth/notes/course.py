"""病程记录 (progress notes: post-operative days, chemotherapy, burn shock watch, TAPVC ICU) and
手术记录 (operation notes with the values the outcome models use, e.g. bypass time)."""

from __future__ import annotations

from datetime import datetime, timedelta

from medlake.synth.model import Operation
from medlake.synth.notes.pieces import (
    NoteCtx,
    as_int,
    date_piece,
    datetime_piece,
    dx_ent,
    first_panel,
    listing,
    panel_pieces,
    words,
)
from medlake.synth.notes.textbuild import Doc, Ent, Phi, Piece, Time
from medlake.synth.rand import pick


def _labs_at(ctx: NoteCtx, when: datetime) -> Piece:
    panel = first_panel(ctx.visit, "血常规", when) or first_panel(ctx.visit, "血常规")
    if panel is None:
        return "血常规未见明显异常"
    return ["血常规：", *panel_pieces(ctx.vocab, ctx.rng, panel)]


def _title(doc: Doc, ctx: NoteCtx, when: datetime, kind: str) -> None:
    doc.say(ctx.rng, "prog.title", date=datetime_piece(ctx.rng, when), kind=kind)


def progress_note(ctx: NoteCtx, when: datetime, kind: str) -> Doc:
    """``kind``: postop, medical, chemo, burn, tapvc."""
    r = ctx.rng
    f = ctx.visit.facts
    v = ctx.visit
    doc = Doc()

    def status(d: Doc) -> None:
        d.say(r, "prog.status")

    if kind == "postop":
        op = v.operations[0]
        n = max(1, (when.date() - op.day).days)
        _title(doc, ctx, when, pick(r, ["术后查房", "主治医师查房"]))
        rel = Time(f"术后第{n}天", (op.day + timedelta(days=n)).isoformat())
        doc.say(
            r, "prog.postop", rel=rel, status=status, labs=_labs_at(ctx, when), doctor=Phi(ctx.doctor, "NAME")
        )
    elif kind == "medical":
        n = max(2, (when.date() - v.start.date()).days + 1)
        _title(doc, ctx, when, "日常病程")
        rel = Time(f"入院第{n}天", when.date().isoformat())
        drug = Ent(v.orders[0].name, "M") if v.orders else "对症治疗"
        better: Piece = lambda d: d.say(r, "prog.better")  # noqa: E731
        doc.say(r, "prog.medical", rel=rel, status=status, better=better, labs=_labs_at(ctx, when), drug=drug)
    elif kind == "chemo":
        since = as_int(f, "days_since")
        _title(doc, ctx, when, "化疗前评估")
        since_piece: Piece = (
            Time(f"化疗后{since}天", (v.start - timedelta(days=since)).date().isoformat())
            if since
            else "术后恢复可"
        )
        low = next(
            (
                x
                for p in v.labs
                if p.panel == "血常规"
                for x in p.results
                if x.abbr == "WBC" and x.flag == "L"
            ),
            None,
        )
        judge: Piece = (
            (lambda d: d.say(r, "prog.chemo_low", wbc=Ent("白细胞减少", "S")))
            if low
            else (lambda d: d.say(r, "prog.chemo_ok"))
        )
        regimen = listing([Ent(ctx.vocab.drugs[k].name, "M") for k in words(f, "regimen")], r)
        doc.say(
            r,
            "prog.chemo",
            since=since_piece,
            labs=_labs_at(ctx, when),
            judge=judge,
            cycle=str(f["cycle"]),
            regimen=regimen,
        )
    elif kind == "burn":
        injury = f["injury"]
        assert isinstance(injury, datetime)
        hours = round((when - injury).total_seconds() / 3600, 1)
        rel = Time(f"伤后{hours:g}小时", when.date().isoformat())
        lac_panel = [
            p for p in v.labs if p.panel == "血气分析" and p.collected <= when + timedelta(minutes=1)
        ]
        lac_val = lac_panel[-1].results[0].value if lac_panel else str(f["lactate"])
        lac: Piece = [Ent("血乳酸", "L", "p", None, lac_val, "mmol/L"), f"{lac_val}mmol/L"]
        _title(doc, ctx, when, "病情变化" if f.get("shock") else "日常病程")
        if f.get("shock"):
            bp = f"{r.randint(70, 88)}/{r.randint(40, 55)}mmHg"
            drug = Ent(ctx.vocab.drugs["dopamine"].name, "M")
            doc.say(r, "prog.burn_shock", rel=rel, hr=f"{r.randint(125, 150)}次/分", bp=bp,
                    urine=f"{r.randint(8, 25)}ml/h", lac=lac, shock=dx_ent(ctx.vocab, "burn_shock"), drug=drug)  # fmt: skip
        else:
            bp = f"{r.randint(105, 130)}/{r.randint(60, 80)}mmHg"
            doc.say(r, "prog.burn_ok", rel=rel, hr=f"{r.randint(85, 110)}次/分", bp=bp,
                    urine=f"{r.randint(45, 90)}ml/h", lac=lac)  # fmt: skip
    else:  # tapvc
        op = v.operations[0]
        n = max(1, (when.date() - op.day).days)
        _title(doc, ctx, when, "术后病程")
        rel = Time(f"术后第{n}天", (op.day + timedelta(days=n)).isoformat())
        lac_panel = [p for p in v.labs if p.panel == "血气分析"]
        lac_val = lac_panel[-1].results[0].value if lac_panel else "2.0"
        lac = [Ent("血乳酸", "L", "p", None, lac_val, "mmol/L"), f"{lac_val}mmol/L"]
        doc.say(r, "prog.tapvc", rel=rel, status=pick(r, ["生命体征平稳", "循环稳定", "病情平稳"]),
                hr=f"{r.randint(130, 165)}次/分", spo2=f"{r.randint(92, 99)}%", lac=lac,
                drug=Ent(ctx.vocab.drugs["milrinone"].name, "M"))  # fmt: skip
    doc.say(r, "sign", doctor=Phi(ctx.doctor, "NAME"), date=date_piece(r, when.date()))
    return doc


def _op_body(doc: Doc, ctx: NoteCtx, op: Operation) -> None:
    r = ctx.rng
    d = op.details
    h = ctx.patient.history
    k = op.key
    if k in ("tapvc_repair", "pv_reop"):
        doc.t("胸骨正中切口，肝素化后升主动脉及上下腔静脉插管建立")
        doc.ent(Ent("体外循环", "O"))
        if k == "tapvc_repair":
            doc.t(f"。探查见{h.get('tapvc_type', '心上型')}完全性肺静脉异位引流，四支肺静脉汇入共汇")
            doc.t("，垂直静脉近端明显狭窄" if h.get("obstruction") else "，未见明显梗阻")
            doc.t("。将肺静脉共汇与左心房后壁行侧侧吻合，结扎垂直静脉，补片修补房间隔缺损。")
        else:
            doc.t("。探查见肺静脉吻合口瘢痕增生、狭窄，行无缝线技术（sutureless）解除狭窄。")
        doc.ent(Ent("体外循环时间", "S", "p", None, str(d["cpb_min"]), "分钟"))
        doc.t(f"{d['cpb_min']}分钟，")
        doc.ent(Ent("主动脉阻断时间", "S", "p", None, str(d["clamp_min"]), "分钟"))
        doc.t(f"{d['clamp_min']}分钟。患儿")
        doc.ent(Ent("体重", "S", "p", None, str(d["weight"]), "kg"))
        doc.t(f"{d['weight']}kg。")
    elif k in ("mastectomy", "lumpectomy"):
        side = d.get("side", "左")
        doc.t(f"于{side}乳外上象限取梭形切口，")
        doc.t(
            "完整切除"
            + (
                f"{side}侧乳腺及胸大肌筋膜，清扫腋窝淋巴结"
                if k == "mastectomy"
                else "肿块及周围1cm正常乳腺组织"
            )
        )
        doc.t("，标本送病理检查。")
    elif k in ("radical_hyst", "lap_radical_hyst"):
        doc.t("建立气腹，" if k == "lap_radical_hyst" else "取下腹正中切口，")
        doc.t(
            "探查见宫颈增粗，盆腔未见明显转移灶。行广泛子宫切除+双侧附件切除+盆腔淋巴结清扫术，标本送病理。"
        )
    elif k in ("debridement", "skin_graft"):
        doc.t(f"切除坏死焦痂及失活组织约{max(1, int(float(ctx.visit.facts.get('deep', 5) or 5)))}%体表面积，")  # type: ignore[arg-type]
        doc.t("取自体刃厚皮片移植覆盖创面，加压包扎。" if k == "skin_graft" else "创面止血后以生物敷料覆盖。")
    else:
        doc.t(pick(r, ["按常规步骤完成手术，", "依次显露、处理病灶，"]))
        doc.t("过程顺利。")


def operation_note(ctx: NoteCtx, op: Operation, when: datetime) -> Doc:
    r = ctx.rng
    v = ctx.visit
    doc = Doc()
    pre = listing([Ent(d.name, "D", "p", d.code) for d in v.diagnoses[:2]], r)
    doc.say(
        r, "op.header", date=date_piece(r, op.day), pre=pre, post=[Ent(v.diagnoses[0].name, "D", "p", v.diagnoses[0].code)] if v.diagnoses else "同术前",
        op=Ent(op.name, "O"), surgeon=Phi(op.surgeon, "NAME"), anesthesia=op.anesthesia,
    )  # fmt: skip
    doc.say(r, "op.body.title")
    doc.say(r, "op.body.start", anesthesia=op.anesthesia)
    _op_body(doc, ctx, op)
    blood = op.details.get(
        "blood_ml",
        pick(r, [5, 10, 20, 50]) if op.key not in ("tapvc_repair", "pv_reop") else pick(r, [20, 30, 50]),
    )
    doc.say(r, "op.body.end", blood=f"{blood}ml")
    doc.say(r, "sign", doctor=Phi(op.surgeon, "NAME"), date=datetime_piece(r, when))
    return doc
