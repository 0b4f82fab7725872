"""Annotated building blocks shared by the note composers: dates, identifiers, durations, labs, lists."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from medlake.synth.model import LabPanel, Patient, Visit
from medlake.synth.notes.textbuild import Ent, Phi, Piece, Time
from medlake.synth.rand import pick
from medlake.synth.vocab import Vocab

SEX_ZH = {"1": "男", "2": "女"}
_UNIT_DAYS = {"h": 1 / 24, "d": 1, "m": 30.4, "y": 365.25}


@dataclass
class NoteCtx:
    vocab: Vocab
    rng: random.Random
    patient: Patient
    visit: Visit
    doctor: str


def as_int(d: Mapping[str, object], key: str, default: int = 0) -> int:
    """An integer fact (facts and history are loosely typed dicts shared with the clinical patterns)."""
    value = d.get(key, default)
    return int(value) if isinstance(value, int | float | str) else default


def size_of(d: Mapping[str, object]) -> tuple[int, int]:
    value = d.get("size", (20, 15))
    assert isinstance(value, tuple)
    return int(value[0]), int(value[1])


def words(d: Mapping[str, object], key: str) -> list[str]:
    value = d.get(key) or []
    assert isinstance(value, list | tuple)
    return [str(x) for x in value]


def date_piece(rng: random.Random, d: date) -> Time:
    fmt = rng.randrange(4)
    if fmt == 0:
        text = f"{d.year}年{d.month}月{d.day}日"
    elif fmt == 1:
        text = d.isoformat()
    elif fmt == 2:
        text = f"{d.year}.{d.month:02d}.{d.day:02d}"
    else:
        text = f"{d.year}年{d.month:02d}月{d.day:02d}日"
    return Time(text, d.isoformat(), phi=True)


def datetime_piece(rng: random.Random, t: datetime) -> Time:
    if rng.random() < 0.5:
        text = f"{t:%Y-%m-%d %H:%M}"
    else:
        text = f"{t.year}年{t.month}月{t.day}日 {t.hour}时{t.minute}分"
    return Time(text, t.date().isoformat(), phi=True)


def age_text(patient: Patient, on: date) -> str:
    p = patient.person
    days = (on - p.birth).days
    if days < 31:
        return f"{max(days, 1)}天"
    if days < 365:
        return f"{days // 30}月{days % 30}天" if days % 30 else f"{days // 30}月"
    years = p.age_on(on)
    return f"{years}岁" if years >= 3 else f"{years}岁{(days - int(years * 365.25)) // 30}月"


def duration(rng: random.Random, n: int, unit: str) -> str:
    if unit == "h":
        return f"{n}小时"
    if unit == "d":
        return pick(rng, [f"{n}天", f"{n}日", f"{n}天余"])
    if unit == "m":
        return pick(rng, [f"{n}月余", f"{n}个月", f"{n}月"])
    return pick(rng, [f"{n}年余", f"{n}年", f"{n}余年"])


def onset(rng: random.Random, anchor: datetime, n: int, unit: str) -> Time:
    """A relative onset time (入院前3月余, 2天前), normalised to the date it refers to."""
    when = (anchor - timedelta(days=n * _UNIT_DAYS[unit])).date()
    dur = duration(rng, n, unit)
    text = pick(rng, [f"入院前{dur}", f"{dur}前"])
    return Time(text, when.isoformat())


def name_piece(name: str) -> Phi:
    return Phi(name, "NAME")


def identifiers(ctx: NoteCtx) -> dict[str, Piece]:
    p = ctx.patient.person
    v = ctx.visit
    rid = p.resident_id
    return {
        "name": Phi(p.name, "NAME"),
        "sex": SEX_ZH[p.sex],
        "age": age_text(ctx.patient, v.start.date()),
        "eth": p.ethnicity,
        "mrn": Phi(p.his_id, "MRN"),
        "vno": Phi(v.visit_no, "MRN"),
        "idno": Phi(rid, "ID") if rid else "不详",
        "phone": Phi(p.phone, "PHONE"),
        "addr": Phi(p.address, "ADDRESS"),
        "admit": datetime_piece(ctx.rng, v.start),
    }


def dx_ent(vocab: Vocab, key: str, assertion: str = "p") -> Ent:
    c = vocab.diagnoses[key]
    return Ent(c.name, "D", assertion, c.code)


def listing(items: list[Piece], rng: random.Random) -> list[Piece]:
    """``a、b和c`` or ``a、b及c``."""
    if len(items) <= 1:
        return list(items)
    out: list[Piece] = []
    for i, it in enumerate(items):
        if i:
            out.append(pick(rng, ["和", "及"]) if i == len(items) - 1 and len(items) > 2 else "、")
        out.append(it)
    return out


def negations(rng: random.Random, words: list[str]) -> list[Piece]:
    """Negated symptoms in one of several phrasings (无发热、胸痛 / 否认… / 不伴…)."""
    ents: list[Piece] = [Ent(w, "S", "n") for w in words]
    style = rng.randrange(4)
    if style == 0:
        return ["无", *listing(ents, rng)]
    if style == 1:
        return ["不伴", *listing(ents, rng)]
    if style == 2:
        return ["否认", *listing(ents, rng)]
    return ["无", *sum(([e, "，无"] for e in ents[:-1]), []), ents[-1]]


def lab_piece(vocab: Vocab, rng: random.Random, abbr: str, value: str) -> list[Piece]:
    t = vocab.labs[abbr]
    unit = t.unit
    shown = f"×{unit}" if unit.startswith("10^") else unit
    label = t.abbr if rng.random() < 0.7 else t.name
    sep = pick(rng, [" ", "", "：", " "])
    return [Ent(label, "L", "p", None, value, unit or None), f"{sep}{value}{shown}"]


def panel_pieces(vocab: Vocab, rng: random.Random, panel: LabPanel, limit: int = 4) -> list[Piece]:
    out: list[Piece] = []
    for r in panel.results[:limit]:
        if not vocab.labs[r.abbr].numeric:
            continue
        if out:
            out.append("，")
        out.extend(lab_piece(vocab, rng, r.abbr, r.value))
    return out


def first_panel(visit: Visit, name: str, before: datetime | None = None) -> LabPanel | None:
    for p in visit.labs:
        if p.panel == name and (before is None or p.collected <= before):
            return p
    return None


def vitals(rng: random.Random, sbp: int, dbp: int, pulse: int, temp: float, resp: int) -> list[Piece]:
    if rng.random() < 0.5:
        return [
            Ent("T", "S", "p", None, f"{temp:.1f}", "℃"), f" {temp:.1f}℃，",
            Ent("P", "S", "p", None, str(pulse), "次/分"), f" {pulse}次/分，",
            Ent("R", "S", "p", None, str(resp), "次/分"), f" {resp}次/分，",
            Ent("BP", "S", "p", None, f"{sbp}/{dbp}", "mmHg"), f" {sbp}/{dbp}mmHg。",
        ]  # fmt: skip
    return [
        Ent("体温", "S", "p", None, f"{temp:.1f}", "℃"), f"{temp:.1f}℃，",
        Ent("脉搏", "S", "p", None, str(pulse), "次/分"), f"{pulse}次/分，",
        Ent("呼吸", "S", "p", None, str(resp), "次/分"), f"{resp}次/分，",
        Ent("血压", "S", "p", None, f"{sbp}/{dbp}", "mmHg"), f"{sbp}/{dbp}mmHg。",
    ]  # fmt: skip
