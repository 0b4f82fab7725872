"""Burns (T20-T31, TBSA %) with burn shock drawn from a logistic true-risk model on TBSA, age,
inhalation injury, time to fluid resuscitation and admission lactate."""

from __future__ import annotations

import math
from datetime import timedelta

from medlake.synth.clinical.base import StoryBuilder
from medlake.synth.clinical.risk import burn_shock_risk
from medlake.synth.model import Outcome

MECHANISMS = [("热液烫伤", 40), ("火焰烧伤", 35), ("电烧伤", 10), ("化学烧伤", 8), ("热接触烧伤", 7)]
SITES = ["burn_head", "burn_trunk", "burn_arm", "burn_hand", "burn_leg"]


def burn(b: StoryBuilder) -> None:
    r = b.rng
    p = b.person
    age = p.age_on(p.index_date)
    mech = r.choices([m for m, _ in MECHANISMS], [w for _, w in MECHANISMS])[0]
    tbsa = int(max(2, min(90, math.exp(r.gauss(math.log(16), 0.75)))))
    deep = int(tbsa * r.uniform(0.0, 0.5)) if tbsa >= 10 else 0
    inhalation = mech == "火焰烧伤" and r.random() < 0.25 + tbsa / 150
    hours = round(min(12.0, max(0.5, r.expovariate(1 / 2.2) + 0.5)), 1)
    arrive_h = round(hours * r.uniform(0.4, 0.9), 1)
    lactate = round(max(0.6, r.gauss(1.2 + 0.04 * tbsa + 0.15 * hours, 0.6)), 1)
    risk = burn_shock_risk(tbsa, age, inhalation, hours, lactate)
    outcome = int(r.random() < risk)
    b.patient.outcomes.append(Outcome("burn_shock", round(risk, 6), outcome))
    b.patient.history.update(story="burn")

    injury = b.at(p.index_date, 0, 23)
    er = b.visit("急诊", "0601", injury + timedelta(hours=arrive_h))
    los = int(max(5, r.gauss(10 + tbsa * 0.6, 4)))
    adm = er.start + timedelta(minutes=r.randint(20, 50))
    fluid_start = injury + timedelta(hours=hours)
    fluid_visit = er if fluid_start < adm else None  # resuscitation may start in the emergency department
    v = b.visit("住院", "0206", adm, days=los)
    sites = r.sample(SITES, k=min(len(SITES), 1 + tbsa // 15))
    tbsa_key = f"tbsa_{min(8, tbsa // 10)}"
    b.dx(er, sites[0], primary=True)
    b.dx(er, tbsa_key)
    b.dx(v, sites[0], primary=True)
    for s in sites[1:]:
        b.dx(v, s)
    if deep:
        b.dx(v, "burn_deep")
    b.dx(v, tbsa_key)
    if inhalation:
        b.dx(v, "inhalation")
    b.labs(er, "血气分析", er.start + timedelta(minutes=15), LAC=lactate)
    hgb_shift = 1.0 + min(0.35, tbsa / 150)
    b.routine_labs(
        v, adm + timedelta(hours=1), HGB=(135 if p.sex == "1" else 122) * hgb_shift, WBC=r.uniform(9, 18)
    )
    b.order(fluid_visit or v, "ringer_lactate", fluid_start, days=2, admins=4)
    b.order(v, "albumin", adm + timedelta(hours=12), days=3)
    b.order(v, "morphine", adm + timedelta(minutes=30), days=2)
    if outcome:
        shock_t = fluid_start + timedelta(hours=r.uniform(4, 30))
        b.dx(v, "burn_shock", when=shock_t)
        b.labs(v, "血气分析", shock_t, LAC=max(lactate, 2.5) + r.uniform(0.5, 3.0))
        b.order(v, "dopamine", shock_t + timedelta(minutes=20), days=2)
    else:
        shock_t = None
        b.labs(v, "血气分析", adm + timedelta(hours=12), LAC=max(0.7, lactate * r.uniform(0.5, 0.9)))
    if tbsa >= 8 or deep:
        op = b.operation(v, "debridement", b.at(adm.date() + timedelta(days=r.randint(3, 6)), 8, 12))
        if deep:
            b.operation(v, "skin_graft", op.start + timedelta(hours=1, minutes=30))
    b.order(v, "cefuroxime", adm + timedelta(hours=2), days=5)
    v.facts.update(
        story="burn", mech=mech, tbsa=tbsa, deep=deep, inhalation=inhalation, hours=hours, arrive_h=arrive_h,
        lactate=lactate, injury=injury, sites=sites, shock=shock_t, fluid_start=fluid_start,
    )  # fmt: skip
