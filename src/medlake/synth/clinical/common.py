"""Everyday patients: outpatient visits for common complaints, routine labs, and common admissions.

The admission conditions (symptoms, imaging, drugs, operation, length of stay, lab shifts) are the
data file ``conditions.tsv`` beside this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources

from medlake.errors import VocabularyError
from medlake.synth.clinical.base import StoryBuilder
from medlake.synth.model import Visit
from medlake.synth.rand import pick

_COND_HEADER = (
    "key",
    "dx",
    "dept",
    "chief",
    "chief_unit",
    "sym",
    "neg",
    "imaging",
    "finding",
    "drugs",
    "op",
    "los",
    "labs",
)
_OUTPATIENT = [
    ("uri", "0801", "amoxicillin", "咳嗽、流涕"),
    ("gastritis", "0103", "omeprazole", "上腹部不适"),
    ("lbp", "0203", "flurbiprofen", "腰痛"),
    ("uti", "0801", "amoxicillin", "尿频、尿急"),
]


@dataclass(frozen=True)
class Condition:
    key: str
    dx: str
    dept: str
    chief: str
    chief_unit: str
    sym: tuple[str, ...]
    neg: tuple[str, ...]
    imaging: str
    finding: str
    drugs: tuple[str, ...]
    op: str
    los: int
    labs: tuple[tuple[str, float, float], ...]


@lru_cache(maxsize=1)
def conditions() -> dict[str, Condition]:
    text = resources.files("medlake.synth.clinical").joinpath("conditions.tsv").read_text(encoding="utf-8")
    lines = text.splitlines()
    if tuple(lines[0].split("\t")) != _COND_HEADER:
        raise VocabularyError("conditions.tsv: unexpected header")
    out: dict[str, Condition] = {}
    for line in lines[1:]:
        cells = line.split("\t")
        if len(cells) != len(_COND_HEADER):
            raise VocabularyError(f"conditions.tsv: bad row {line!r}")
        labs: list[tuple[str, float, float]] = []
        if cells[12] != "-":
            for item in cells[12].split(","):
                abbr, rng = item.split("=")
                lo, hi = rng.split(":")
                labs.append((abbr, float(lo), float(hi)))
        if cells[4] not in ("h", "d", "m", "y"):
            raise VocabularyError(f"conditions.tsv: chief_unit must be h/d/m/y, not {cells[4]!r}")
        out[cells[0]] = Condition(
            cells[0], cells[1], cells[2], cells[3], cells[4], tuple(cells[5].split(",")), tuple(cells[6].split(",")),
            cells[7], cells[8], tuple(cells[9].split(",")), cells[10], int(cells[11]), tuple(labs),
        )  # fmt: skip
    return out


_DURATION = {"h": (2, 20), "d": (2, 10), "m": (1, 11), "y": (2, 20)}


def comorbidities(b: StoryBuilder) -> None:
    """Chronic conditions of adults (hypertension, diabetes, hyperlipidaemia) kept in history."""
    age = b.person.age_on(b.person.index_date)
    h = b.patient.history
    r = b.rng
    if age >= 40 and r.random() < 0.18:
        h["htn_years"] = r.randint(1, 20)
    if age >= 35 and r.random() < 0.08:
        h["dm_years"] = r.randint(1, 15)
    if age >= 40 and r.random() < 0.1:
        h["lipid"] = True
    if r.random() < 0.12:
        h["allergy"] = pick(r, ["青霉素", "头孢类药物", "磺胺类药物"])
    if r.random() < 0.2:
        h["family"] = (pick(r, ["母亲", "父亲"]), pick(r, ["htn", "dm2", "chd", "stroke"]))


def add_comorbidity_dx(b: StoryBuilder, v: Visit) -> None:
    h = b.patient.history
    if "htn_years" in h:
        b.dx(v, "htn")
    if "dm_years" in h:
        b.dx(v, "dm2")
    if h.get("lipid"):
        b.dx(v, "hyperlipid")


def outpatient(b: StoryBuilder, when: datetime) -> Visit:
    key, dept, drug, _ = pick(b.rng, _OUTPATIENT)
    v = b.visit("门诊", dept, when)
    b.dx(v, key, primary=True)
    add_comorbidity_dx(b, v)
    b.order(v, drug, when, days=b.rng.randint(3, 7))
    if b.rng.random() < 0.4:
        b.labs(v, "血常规", when + timedelta(minutes=20))
    return v


def admission(b: StoryBuilder, cond: Condition, when: datetime) -> Visit:
    r = b.rng
    age = b.person.age_on(when.date())
    kind_start = when
    if cond.chief_unit == "h":
        er = b.visit("急诊", "0601", when)
        b.dx(er, cond.dx, primary=True)
        kind_start = when + timedelta(hours=r.uniform(1, 4))
    los = max(2, int(r.gauss(cond.los, cond.los * 0.25)))
    v = b.visit("住院", cond.dept, kind_start, days=los)
    b.dx(v, cond.dx, primary=True)
    add_comorbidity_dx(b, v)
    lo, hi = _DURATION[cond.chief_unit]
    values = {abbr.replace("%", "_pct"): r.uniform(a, c) for abbr, a, c in cond.labs}
    if "dm_years" in b.patient.history:
        b.labs(v, "血糖", kind_start + timedelta(hours=14), GLU=r.uniform(7.5, 13.0))
    b.routine_labs(v, kind_start + timedelta(hours=r.uniform(0.5, 3)), **values)
    img = b.imaging(v, cond.imaging, kind_start + timedelta(minutes=r.randint(15, 55)), cond.finding)
    for d in cond.drugs:
        b.order(v, d, kind_start + timedelta(hours=r.uniform(1, 6)), days=min(los, 7))
    if cond.op != "-" and (cond.key != "angina" or r.random() < 0.6):
        op_key = "hip_arthroplasty" if cond.key == "femur_fx" and age >= 70 else cond.op
        b.operation(v, op_key, b.at(kind_start.date() + timedelta(days=min(2, los - 1)), 8, 15),
                    anesthesia="局部麻醉" if op_key == "pci" else "全身麻醉")  # fmt: skip
    v.facts.update(
        story="common", cond=cond.key, chief=cond.chief, chief_n=r.randint(lo, hi), chief_unit=cond.chief_unit,
        sym=list(cond.sym), neg=list(cond.neg), img=img.accession,
    )  # fmt: skip
    return v


def ordinary(b: StoryBuilder) -> None:
    r = b.rng
    comorbidities(b)
    day = b.person.index_date
    for _ in range(r.randint(1, 4)):
        outpatient(b, b.at(day))
        day += timedelta(days=r.randint(7, 120))
    if r.random() < 0.3:
        conds = conditions()
        age = b.person.age_on(day)
        keys = list(conds) if age >= 18 else ["pneumonia", "radius_fx", "appendicitis"]
        admission(b, conds[pick(r, keys)], b.at(day, 0, 23))


def diabetes(b: StoryBuilder) -> None:
    r = b.rng
    comorbidities(b)
    b.patient.history["dm_years"] = r.randint(1, 15)
    day = b.person.index_date
    a1c = r.uniform(6.8, 10.5)
    for _ in range(r.randint(2, 5)):
        v = b.visit("门诊", "0104", b.at(day))
        b.dx(v, "dm2", primary=True)
        b.labs(v, "血糖", v.start + timedelta(minutes=15), GLU=r.uniform(6.5, 13.0) * a1c / 8)
        b.labs(v, "糖化血红蛋白", v.start + timedelta(minutes=15), HbA1c=a1c)
        b.order(v, "metformin", v.start, days=30)
        if a1c > 8.5:
            b.order(v, "insulin_glargine", v.start, days=30)
        a1c = max(6.0, a1c + r.uniform(-0.8, 0.5))
        day += timedelta(days=r.randint(60, 100))
    if r.random() < 0.3:
        v = admission(b, conditions()["stroke" if r.random() < 0.3 else "pneumonia"], b.at(day, 0, 23))
        b.dx(v, "dm2_neph" if r.random() < 0.3 else "dm2")
        b.labs(v, "糖化血红蛋白", v.start + timedelta(hours=13), HbA1c=a1c)


def hypertension(b: StoryBuilder) -> None:
    r = b.rng
    comorbidities(b)
    b.patient.history["htn_years"] = r.randint(1, 20)
    day = b.person.index_date
    for _ in range(r.randint(2, 4)):
        v = b.visit("门诊", "0102", b.at(day))
        b.dx(v, "htn", primary=True)
        v.facts["bp"] = (r.randint(135, 175), r.randint(85, 105))
        b.order(v, pick(r, ["amlodipine", "valsartan"]), v.start, days=30)
        if r.random() < 0.3:
            b.routine_labs(v, v.start + timedelta(minutes=20))
        day += timedelta(days=r.randint(30, 120))
    if r.random() < 0.2:
        admission(b, conditions()[pick(r, ["angina", "stroke"])], b.at(day, 0, 23))
