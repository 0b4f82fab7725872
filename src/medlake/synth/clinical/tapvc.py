"""Congenital heart disease: total anomalous pulmonary venous connection (TAPVC, Q26.2) repaired in
infancy, with re-operation for pulmonary vein stenosis drawn from a logistic true-risk model."""

from __future__ import annotations

from datetime import timedelta

from medlake.synth.clinical.base import StoryBuilder
from medlake.synth.clinical.risk import tapvc_reoperation_risk
from medlake.synth.model import Outcome

TYPES = ["心上型", "心内型", "心下型", "混合型"]


def tapvc(b: StoryBuilder) -> None:
    r = b.rng
    p = b.person
    age_days = (p.index_date - p.birth).days
    ttype = r.choices(TYPES, [45, 25, 20, 10])[0]
    obstruction = r.random() < (0.6 if ttype == "心下型" else 0.25)
    weight = round(max(1.8, min(12.0, 3.1 + 0.021 * age_days + r.gauss(0, 0.45))), 1)
    cpb = int(
        max(50, min(260, r.gauss(110, 28) + (25 if ttype == "混合型" else 0) + (15 if obstruction else 0)))
    )
    clamp = int(cpb * r.uniform(0.45, 0.65))
    lactate = round(max(0.6, r.gauss(3.6, 1.1) if obstruction else r.gauss(1.7, 0.5)), 1)
    spo2 = r.randint(70, 85) if obstruction else r.randint(82, 94)
    risk = tapvc_reoperation_risk(age_days, weight, obstruction, cpb, ttype, lactate)
    outcome = int(r.random() < risk)
    b.patient.outcomes.append(Outcome("tapvc_reoperation", round(risk, 6), outcome))
    b.patient.history.update(story="tapvc", tapvc_type=ttype, obstruction=obstruction)

    adm = b.at(p.index_date, 0, 23)
    los = r.randint(12, 25)
    v = b.visit("住院", "0402", adm, days=los)
    b.dx(v, "tapvc", primary=True)
    b.dx(v, "asd")
    if obstruction:
        b.dx(v, "pvo")
    b.labs(
        v,
        "血气分析",
        adm + timedelta(hours=1),
        LAC=lactate,
        PH=r.uniform(7.22, 7.32) if obstruction else r.uniform(7.34, 7.42),
    )
    b.routine_labs(v, adm + timedelta(hours=2))
    b.labs(v, "心功能", adm + timedelta(hours=2), NT_proBNP=r.uniform(3000, 25000))
    b.imaging(v, "heart_us", adm + timedelta(hours=3), "tapvc_obstructed" if obstruction else "tapvc")
    b.imaging(v, "heart_ct", adm + timedelta(hours=20), "tapvc_ct")
    op_day = adm.date() + timedelta(days=r.randint(1, 3))
    op = b.operation(v, "tapvc_repair", b.at(op_day, 8, 11))
    op.details.update(
        cpb_min=cpb, clamp_min=clamp, weight=weight, age_days=(op_day - p.birth).days, tapvc_type=ttype
    )
    for d, days in (("milrinone", 3), ("dopamine", 3), ("furosemide", 5)):
        b.order(v, d, op.start + timedelta(hours=3), days=days, dose="0.3" if d == "milrinone" else None)
    if obstruction:
        b.order(v, "sildenafil", op.start + timedelta(days=2), days=5, dose="1")
    b.labs(v, "血气分析", op.start + timedelta(hours=6), LAC=max(0.8, lactate * r.uniform(0.7, 1.3)))
    v.facts.update(
        story="tapvc", weight=weight, spo2=spo2, op_day=op_day, tapvc_type=ttype, obstruction=obstruction
    )

    later = op_day + timedelta(days=r.randint(30, 180))
    if outcome:
        v2 = b.visit("住院", "0402", b.at(later, 8, 16), days=r.randint(10, 18))
        b.dx(v2, "pvs", primary=True)
        b.dx(v2, "tapvc")
        b.imaging(v2, "heart_us", v2.start + timedelta(hours=3), "pv_stenosis")
        b.routine_labs(v2, v2.start + timedelta(hours=2))
        op2 = b.operation(v2, "pv_reop", b.at(v2.start.date() + timedelta(days=2), 8, 11))
        op2.details.update(
            cpb_min=int(r.gauss(130, 25)), clamp_min=int(r.gauss(70, 15)), weight=round(weight + 1.2, 1)
        )
        b.order(v2, "milrinone", op2.start + timedelta(hours=3), days=3, dose="0.3")
        v2.facts.update(story="tapvc_reop", weight=round(weight + 1.2, 1), op_day=op2.day, prior_op=op_day)
    else:
        fu = b.visit("门诊", "0402", b.at(later))
        b.dx(fu, "tapvc", primary=True)
        b.imaging(fu, "heart_us", fu.start + timedelta(hours=1), "tapvc_repaired")
