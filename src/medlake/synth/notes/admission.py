"""入院记录 (admission record): header with identifiers, chief complaint, present illness by pattern,
past/family history with negations, examination, test results and admitting diagnoses."""

from __future__ import annotations

from datetime import datetime, timedelta

from medlake.synth.notes.pieces import (
    NoteCtx,
    as_int,
    date_piece,
    datetime_piece,
    duration,
    dx_ent,
    identifiers,
    lab_piece,
    listing,
    negations,
    onset,
    panel_pieces,
    size_of,
    vitals,
    words,
)
from medlake.synth.notes.reports import impression
from medlake.synth.notes.textbuild import Doc, Ent, Phi, Piece, Time
from medlake.synth.rand import pick

RULE_OUT = {"pneumonia": "肺结核", "angina": "急性心肌梗死", "copd": "肺癌", "appendicitis": "泌尿系结石",
            "gallstone": "胆总管结石", "breast": "乳腺纤维腺瘤", "stroke": "脑出血"}  # fmt: skip
FAMILY_DX = {"htn": "高血压", "dm2": "糖尿病", "chd": "冠心病", "stroke": "脑梗死"}
FAMILY_CODE = {"htn": "I10.x00", "dm2": "E11.900", "chd": "I25.103", "stroke": "I63.900"}
RELATION = {"母亲": "母", "父亲": "父"}
BURN_AGENTS = {"热液烫伤": ("热液", "烫伤"), "火焰烧伤": ("火焰", "烧伤"), "电烧伤": ("电流", "击伤"),
               "化学烧伤": ("化学物品", "灼伤"), "热接触烧伤": ("高温物体", "烫伤")}  # fmt: skip


def chief_pieces(text: str, symptoms: list[str]) -> list[Piece]:
    """The chief complaint with its known symptoms as entities (spans known while building)."""
    out: list[Piece] = []
    pos = 0
    while pos < len(text):
        match = next((s for s in symptoms if text.startswith(s, pos)), None)
        if match:
            out.append(Ent(match, "S"))
            pos += len(match)
        else:
            if out and isinstance(out[-1], str):
                out[-1] += text[pos]
            else:
                out.append(text[pos])
            pos += 1
    return out


def _header(doc: Doc, ctx: NoteCtx) -> None:
    r = ctx.rng
    p = ctx.patient.person
    ids = identifiers(ctx)
    family = p.family
    if family and (p.age_on(ctx.visit.start.date()) < 16 or r.random() < 0.4):
        rel, fname = family[0]
        informant: Piece = (
            [rel, Phi(fname, "NAME")] if r.random() < 0.5 else ["患者", rel, Phi(fname, "NAME")]
        )
    else:
        informant = "患者本人"
    ids["informant"] = informant
    doc.say(r, "adm.header", **ids)


def _chief(doc: Doc, ctx: NoteCtx, f: dict[str, object]) -> None:
    r = ctx.rng
    story = f["story"]
    h = ctx.patient.history
    if story == "common":
        chief: Piece = chief_pieces(str(f["chief"]), list(f["sym"]))  # type: ignore[call-overload]
        dur = duration(r, as_int(f, "chief_n"), str(f["chief_unit"]))  # type: ignore[call-overload]
    elif story == "breast":
        chief = ["发现", Ent(f"{h['side']}乳肿块", "S")]
        dur = duration(r, as_int(h, "onset_m", 2), "m")  # type: ignore[call-overload]
    elif story == "cervical":
        chief = [Ent("同房后阴道出血", "S")]
        dur = duration(r, as_int(h, "onset_m", 2), "m")  # type: ignore[call-overload]
    elif story == "tapvc":
        chief = ["发现", Ent("口唇发绀", "S"), "伴", Ent("气促", "S")]
        dur = duration(r, max(1, as_int(f, "onset_d", 7)), "d")  # type: ignore[call-overload]
    elif story == "tapvc_reop":
        chief = ["TAPVC矫治术后，", Ent("气促", "S"), "加重"]
        dur = duration(r, r.randint(5, 20), "d")
    elif story == "burn":
        chief = [str(f["mech"]), "致全身多处创面", Ent("疼痛", "S")]
        dur = f"{f['arrive_h']}小时"
    else:  # chemo
        chief = [
            dx_ent(ctx.vocab, "breast_ca" if f.get("cancer") == "breast" else "cervical_ca"),
            "术后，返院化疗",
        ]
        dur = ""
    doc.say(r, "adm.cc", chief=chief, dur=dur)


def _hpi(doc: Doc, ctx: NoteCtx, f: dict[str, object], doc_time: datetime) -> None:
    r = ctx.rng
    v = ctx.visit
    h = ctx.patient.history
    vocab = ctx.vocab
    story = f["story"]
    doc.say(r, "adm.hpi.title")
    primary = v.diagnoses[0].key if v.diagnoses else ""
    if story == "chemo":
        primary = "breast_ca" if f.get("cancer") == "breast" else "cervical_ca"
    dx = dx_ent(vocab, primary) if primary else ""
    studies = [s for vv in ctx.patient.visits for s in vv.imaging if s.time <= doc_time]
    study = studies[-1] if studies else None
    exam: Piece = Ent(vocab.imaging[study.key].exam, "I") if study else "相关检查"

    def imp(d: Doc) -> None:
        if study is not None:
            impression(d, ctx, study)
        else:
            d.t("异常")

    if story == "common":
        sym = listing([Ent(s, "S") for s in words(f, "sym")], r)
        neg = negations(r, list(f["neg"]))  # type: ignore[call-overload]
        start = onset(r, v.start, as_int(f, "chief_n"), str(f["chief_unit"]))  # type: ignore[call-overload]
        doc.say(r, "adm.hpi.common", onset=start, sym=sym, neg=neg, dx=dx, exam=exam, impression=imp)
    elif story == "breast":
        a, b = size_of(h)
        sep = pick(r, ["*", "×"])
        size: Piece = (
            [Ent("肿块", "S", "p", None, f"{a}*{b}", "mm"), f"{a}{sep}{b}mm"]
            if r.random() < 0.5
            else f"{a}{sep}{b}mm"
        )
        doc.say(
            r, "adm.hpi.breast", onset=onset(r, v.start, as_int(h, "onset_m", 2), "m"), side=str(h["side"]),  # type: ignore[call-overload]
            breast=Ent("乳房", "A"), size=size, neg=negations(r, ["发热", "骨痛", "咳嗽"]), exam=exam, dx=dx,
        )  # fmt: skip
    elif story == "cervical":
        doc.say(
            r, "adm.hpi.cervical", onset=onset(r, v.start, as_int(h, "onset_m", 2), "m"),  # type: ignore[call-overload]
            neg=negations(r, ["腹痛", "发热", "尿频"]), histology=str(h["histology"]), exam=exam, dx=dx,
        )  # fmt: skip
    elif story == "tapvc":
        doc.say(
            r, "adm.hpi.tapvc", onset=onset(r, v.start, max(1, as_int(f, "onset_d", 7)), "d"),  # type: ignore[call-overload]
            neg=negations(r, ["发热", "咳嗽", "抽搐"]), exam=exam, dx=dx, gravida=str(r.randint(1, 3)),
            para=str(r.randint(1, 2)), delivery=pick(r, ["顺产", "剖宫产"]),
            birth_weight=f"{r.uniform(2.6, 3.8):.1f}kg",
        )  # fmt: skip
    elif story == "tapvc_reop":
        prior = f["prior_op"]
        doc.say(
            r, "adm.hpi.reop", prior=date_piece(r, prior),  # type: ignore[arg-type]
            op=Ent(vocab.operations["tapvc_repair"].name, "O", "h"), onset=onset(r, v.start, r.randint(5, 20), "d"),
            neg=negations(r, ["发热", "咳嗽"]), exam=exam, impression=imp, dx=dx,
        )  # fmt: skip
    elif story == "burn":
        injury = f["injury"]
        assert isinstance(injury, datetime)
        hours = float(f["hours"])  # type: ignore[arg-type]
        when = Time(f"入院前{f['arrive_h']}小时", injury.date().isoformat())
        sites = listing([Ent(vocab.diagnoses[s].name[:-4], "A") for s in words(f, "sites")], r)
        fluid_date = (injury + timedelta(hours=hours)).date().isoformat()
        fluid_options: list[Piece] = [
            [Time(f"伤后{hours}小时", fluid_date), "开始静脉补液"],
            [
                "于",
                Time(f"伤后{hours}小时", fluid_date),
                "建立静脉通道予",
                Ent("乳酸钠林格注射液", "M"),
                "补液",
            ],
        ]
        fluid = pick(r, fluid_options)
        neg_words = ["昏迷", "呕吐"] + ([] if f["inhalation"] else ["声音嘶哑", "呼吸困难"])
        agent, verb = BURN_AGENTS.get(str(f["mech"]), ("热源", "烧伤"))
        doc.say(r, "adm.hpi.burn", onset=when, agent=agent, verb=verb,
                sites=sites, fluid=fluid, neg=negations(r, neg_words), dx=dx)  # fmt: skip
        if f["inhalation"]:
            doc.t("伤后出现")
            doc.ent(Ent("声音嘶哑", "S"))
            doc.t("，口鼻周围可见烟灰，考虑合并")
            doc.ent(Ent("吸入性损伤", "D", "u", "T27.300"))
            doc.t("。")
    else:  # chemo
        op = next((o for vv in ctx.patient.visits for o in vv.operations if o.key not in ("chemo",)), None)
        op_piece: Piece = Ent(op.name, "O", "h") if op else "手术"
        op_when: Piece = date_piece(r, op.day) if op else "既往"
        since = as_int(f, "days_since", 0)  # type: ignore[call-overload]
        last: Piece = (
            "术后恢复可"
            if as_int(f, "cycle") == 1
            else [
                Time(f"末次化疗后{since}天", (v.start - timedelta(days=since)).date().isoformat()),
                "，无明显不适",
            ]
        )  # type: ignore[call-overload]
        path: Piece = (
            ["浸润性导管癌，", Ent("ER", "L", "p", None, "+" if h.get("er") else "-"), "（" + ("+" if h.get("er") else "-") + "），",
             Ent("PR", "L", "p", None, "+" if h.get("pr") else "-"), "（" + ("+" if h.get("pr") else "-") + "），",
             Ent("HER2", "L", "p", None, str(h.get("her2_ihc"))), f"（{h.get('her2_ihc')}）"]
            if f.get("cancer") == "breast" else [f"宫颈{h.get('histology', '鳞状细胞癌')}"]
        )  # fmt: skip
        doc.say(r, "adm.hpi.chemo", op_when=op_when, op=op_piece, pathology=path, last=last,
                cycle=str(f["cycle"]), neg=negations(r, ["发热", "咳嗽", "腹泻"]), dx=dx)  # fmt: skip
    doc.say(r, "adm.hpi.tail")


def _past(doc: Doc, ctx: NoteCtx) -> None:
    r = ctx.rng
    h = ctx.patient.history
    vocab = ctx.vocab
    doc.say(r, "adm.past.title")
    if ctx.patient.person.age_on(ctx.visit.start.date()) < 3:
        doc.say(r, "adm.child.past")
        return
    absent: list[Piece] = []
    if "htn_years" in h:
        bp = f"{r.randint(150, 180)}/{r.randint(90, 110)}mmHg"
        doc.say(r, "adm.past.htn", htn=dx_ent(vocab, "htn"), years=f"{h['htn_years']}年", bp=bp,
                drug=Ent(vocab.drugs[pick(r, ["amlodipine", "valsartan"])].name, "M"))  # fmt: skip
    else:
        absent.append(Ent("高血压", "D", "n", "I10.x00"))
    if "dm_years" in h:
        doc.say(r, "adm.past.dm", dm=dx_ent(vocab, "dm2"), years=f"{h['dm_years']}年",
                drug=Ent(vocab.drugs["metformin"].name, "M"))  # fmt: skip
    else:
        absent.append(Ent("糖尿病", "D", "n", "E11.900"))
    absent.append(Ent("冠心病", "D", "n", "I25.103"))
    doc.say(r, "adm.past.neg", list=listing(absent, r))
    doc.say(r, "adm.past.infect")
    doc.say(r, "adm.past.ops")
    if "allergy" in h:
        doc.say(r, "adm.past.allergy", drug=Ent(str(h["allergy"]), "M"))
    else:
        doc.say(r, "adm.past.allergy_none")


def _personal(doc: Doc, ctx: NoteCtx) -> None:
    """个人史 and 婚育史 of adults (birthplace is an address identifier)."""
    r = ctx.rng
    p = ctx.patient.person
    age = p.age_on(ctx.visit.start.date())
    if age < 16:
        return
    doc.say(r, "adm.personal.title")
    place = Phi(p.province + p.city, "ADDRESS")
    smoker = p.sex == "1" and r.random() < 0.35

    def habits(d: Doc) -> None:
        if smoker:
            d.say(r, "adm.habits.smoke", years=str(r.randint(5, 30)), n=str(pick(r, [5, 10, 20])))
        else:
            d.say(r, "adm.habits.none")

    doc.say(r, "adm.personal", birthplace=place, habits=habits)
    if age >= 22:
        doc.say(r, "adm.marital.title")
        children = str(r.randint(1, 3))
        if p.sex == "2":
            doc.say(
                r,
                "adm.marital.f",
                g=str(int(children) + r.randint(0, 2)),
                p=children,
                age=str(r.randint(21, 30)),
            )
        else:
            doc.say(r, "adm.marital.m", p=children)


def _family(doc: Doc, ctx: NoteCtx) -> None:
    r = ctx.rng
    p = ctx.patient.person
    h = ctx.patient.history
    doc.say(r, "adm.family.title")
    kids = dict(p.family)
    if "母亲" in kids and "父亲" in kids:
        doc.say(r, "adm.family.child", father=Phi(kids["父亲"], "NAME"), mother=Phi(kids["母亲"], "NAME"))
    elif "family" in h:
        rel, key = (str(x) for x in h["family"])  # type: ignore[attr-defined]
        rel_text = pick(r, [f"其{RELATION[rel]}", rel])
        doc.say(r, "adm.family.rel", rel=rel_text, dx=Ent(FAMILY_DX[key], "D", "f", FAMILY_CODE[key]))
    else:
        doc.say(r, "adm.family.none")
    if p.family and r.random() < 0.6:
        rel, fname = p.family[0]
        doc.t("\n")
        phone = p.phone[:3] + str((int(p.phone[3:]) * 7 + 13) % 10**8).zfill(8)
        doc.say(r, "adm.family.contact", relname=Phi(fname, "NAME"), relation=rel, phone=Phi(phone, "PHONE"))


def _exam(doc: Doc, ctx: NoteCtx, f: dict[str, object]) -> None:
    r = ctx.rng
    h = ctx.patient.history
    story = f["story"]
    doc.say(r, "adm.pe.title")
    if story in ("tapvc", "tapvc_reop"):
        w = f["weight"]
        doc.emit(
            vitals(
                r,
                r.randint(65, 85),
                r.randint(35, 50),
                r.randint(140, 175),
                r.uniform(36.3, 37.4),
                r.randint(45, 70),
            )
        )
        doc.ent(Ent("体重", "S", "p", None, str(w), "kg"))
        doc.t(f"{w}kg。")
        doc.t("口唇")
        doc.ent(Ent("发绀", "S"))
        doc.t("，经皮")
        spo2 = f.get("spo2", 88)
        doc.ent(Ent("血氧饱和度", "S", "p", None, str(spo2), "%"))
        doc.t(f"{spo2}%。呼吸急促，可见三凹征。胸骨左缘2-3肋间可闻及Ⅱ/6级收缩期")
        doc.ent(Ent("杂音", "S"))
        doc.t("。肝肋下2cm。")
        return
    sbp, dbp = (
        (r.randint(135, 170), r.randint(85, 100))
        if "htn_years" in h
        else (r.randint(105, 135), r.randint(65, 85))
    )
    temp = r.uniform(38.0, 39.2) if "发热" in (f.get("sym") or []) else r.uniform(36.2, 37.2)  # type: ignore[operator]
    doc.emit(vitals(r, sbp, dbp, r.randint(68, 98), temp, r.randint(16, 22)))
    doc.say(r, "adm.pe.general")
    if story == "breast":
        a, b = size_of(h)
        doc.t(f"\n专科检查：{h['side']}乳外上象限可触及一")
        doc.ent(Ent("肿块", "S", "p", None, f"{a}*{b}", "mm"))
        doc.t(f"，大小约{a}*{b}mm，质硬，边界不清，活动度差，与皮肤无粘连。双侧腋窝未触及")
        doc.ent(Ent("肿大淋巴结", "S", "n"))
        doc.t("。")
    elif story == "burn":
        doc.t("\n专科情况：创面分布于")
        doc.emit(listing([Ent(ctx.vocab.diagnoses[s].name[:-4], "A") for s in words(f, "sites")], r))  # type: ignore[attr-defined]
        tbsa = as_int(f, "tbsa")
        doc.t(f"，烧伤总面积约{tbsa}%")
        doc.ent(Ent("TBSA", "S", "p", None, str(tbsa), "%"))
        doc.t("，")
        deep = as_int(f, "deep")
        doc.t(
            f"其中浅Ⅱ度{max(1, int(tbsa) - deep)}%，深Ⅱ度及Ⅲ度{deep}%。"
            if deep
            else "均为浅Ⅱ度创面，可见水疱形成。"
        )  # type: ignore[call-overload]
    elif story == "cervical":
        doc.t("\n妇科检查：宫颈菜花样")
        doc.ent(Ent("肿物", "S"))
        doc.t(f"，直径约{r.randint(2, 4)}cm，触之易出血，宫旁无增厚。")


def _aux(doc: Doc, ctx: NoteCtx, doc_time: datetime) -> None:
    r = ctx.rng
    panels = [
        p for p in ctx.visit.labs if p.collected <= doc_time and ctx.vocab.labs[p.results[0].abbr].numeric
    ]
    if not panels:
        return
    doc.say(r, "adm.aux.title")
    for i, p in enumerate(panels[:3]):
        if i:
            doc.t("；")
        doc.t(f"{p.panel}（")
        doc.emit(date_piece(r, p.collected.date()))
        doc.t("）：")
        doc.emit(panel_pieces(ctx.vocab, r, p))
    doc.t("。")


def _diagnoses(doc: Doc, ctx: NoteCtx, doc_time: datetime, story: str) -> None:
    r = ctx.rng
    doc.say(r, "adm.dx.title")
    n = 0
    for d in ctx.visit.diagnoses:
        if d.time > doc_time or d.key in ("chemo",):
            continue
        n += 1
        doc.t(f"{n}.")
        doc.ent(Ent(d.name, "D", "p", d.code))
        doc.t("\n")
    cond = str(ctx.visit.facts.get("cond", story))
    if cond in RULE_OUT and r.random() < 0.5:
        doc.say(r, "adm.dx.rule_out", n=str(n + 1), dx=Ent(RULE_OUT[cond], "D", "u"))


def admission_note(ctx: NoteCtx, doc_time: datetime) -> Doc:
    f = ctx.visit.facts
    doc = Doc()
    _header(doc, ctx)
    _chief(doc, ctx, f)
    _hpi(doc, ctx, f, doc_time)
    _past(doc, ctx)
    if ctx.rng.random() < 0.5:
        _personal(doc, ctx)
        _family(doc, ctx)
    else:  # some hospitals' templates put the family history first
        _family(doc, ctx)
        _personal(doc, ctx)
    _exam(doc, ctx, f)
    _aux(doc, ctx, doc_time)
    _diagnoses(doc, ctx, doc_time, str(f["story"]))
    doc.say(ctx.rng, "sign", doctor=Phi(ctx.doctor, "NAME"), date=datetime_piece(ctx.rng, doc_time))
    return doc


__all__ = ["admission_note", "chief_pieces", "lab_piece"]
