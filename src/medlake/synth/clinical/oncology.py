"""Breast cancer (receptor status, chemotherapy, lung metastases) and cervical cancer (radical
hysterectomy, docetaxel + carboplatin)."""

from __future__ import annotations

from datetime import datetime, timedelta

from medlake.synth.clinical.base import StoryBuilder
from medlake.synth.clinical.common import add_comorbidity_dx, comorbidities
from medlake.synth.model import Visit
from medlake.synth.rand import pick


def _receptors(b: StoryBuilder) -> dict[str, object]:
    r = b.rng
    er = r.random() < 0.7
    pr = r.random() < (0.8 if er else 0.1)
    her2_ihc = r.choices(["0", "1+", "2+", "3+"], [30, 30, 22, 18])[0]
    fish = None
    her2 = her2_ihc == "3+"
    if her2_ihc == "2+":
        fish = r.random() < 0.35
        her2 = fish
    return {
        "er": er, "er_pct": pick(r, [60, 70, 80, 90, 95]) if er else 0,
        "pr": pr, "pr_pct": pick(r, [10, 20, 40, 60, 80]) if pr else 0,
        "her2_ihc": her2_ihc, "her2_fish": fish, "her2": her2,
        "ki67": pick(r, [5, 10, 15, 20, 30, 40, 50, 60]),
    }  # fmt: skip


def _ihc_labs(b: StoryBuilder, v: Visit, rec: dict[str, object], when: datetime) -> None:
    er = f"阳性({rec['er_pct']}%,强)" if rec["er"] else "阴性"
    pr = f"阳性({rec['pr_pct']}%,中等)" if rec["pr"] else "阴性"
    her2 = f"{rec['her2_ihc']}"
    b.labs(v, "免疫组化", when, ER=er, PR=pr, HER2=her2, Ki_67=str(rec["ki67"]))
    if rec["her2_fish"] is not None:
        value = (
            "扩增 (HER2/CEP17比值 2.6 & 平均HER2拷贝数 6.1)"
            if rec["her2_fish"]
            else "无扩增 (HER2/CEP17比值 1.3 & 平均HER2拷贝数 2.9)"
        )
        b.labs(v, "FISH", when + timedelta(days=3), HER2_FISH=value)


def breast_cancer(b: StoryBuilder) -> None:
    r = b.rng
    comorbidities(b)
    h = b.patient.history
    rec = _receptors(b)
    side = pick(r, ["左", "右"])
    size = (r.randint(12, 45), 0)
    size = (size[0], max(8, size[0] - r.randint(1, 10)))
    h.update(
        story="breast", side=side, size=size, metastasis=r.random() < 0.12, onset_m=r.randint(1, 6), **rec
    )
    day = b.person.index_date
    # outpatient work-up with ultrasound
    v0 = b.visit("门诊", "0202", b.at(day))
    b.dx(v0, "breast_ca", primary=True)
    b.imaging(v0, "breast_us", v0.start + timedelta(hours=1), "breast_mass")
    b.labs(v0, "肿瘤标志物", v0.start + timedelta(minutes=30), only=("CEA", "CA153"), CA153=r.uniform(8, 60))
    # surgery admission
    adm = b.at(day + timedelta(days=r.randint(5, 20)), 8, 11)
    v = b.visit("住院", "0202", adm, days=r.randint(6, 10))
    b.dx(v, "breast_ca", primary=True)
    add_comorbidity_dx(b, v)
    b.routine_labs(v, adm + timedelta(hours=r.uniform(1, 3)))
    b.imaging(v, "chest_ct", adm + timedelta(hours=20), "normal_chest")
    op_day = adm.date() + timedelta(days=2)
    op = b.operation(
        v, "mastectomy" if size[0] > 25 or r.random() < 0.6 else "lumpectomy", b.at(op_day, 8, 12)
    )
    op.details.update(side=side, blood_ml=pick(r, [50, 80, 100, 150]), nodes=r.randint(0, 6))
    _ihc_labs(b, v, rec, op.start + timedelta(days=3))
    b.order(v, "cefuroxime", op.start - timedelta(minutes=40), days=2)
    b.order(v, "flurbiprofen", op.start + timedelta(hours=4), days=3)
    v.facts.update(story="breast", op_day=op_day, pathology=True)
    # adjuvant chemotherapy cycles
    regimen = ["docetaxel", "cyclophosphamide"] if rec["her2"] else ["epirubicin", "cyclophosphamide"]
    if rec["her2"]:
        regimen += ["trastuzumab"] + (["pertuzumab"] if r.random() < 0.5 else [])
    cday = op_day + timedelta(days=r.randint(21, 35))
    last_chemo = cday
    for cycle in range(1, r.randint(4, 6) + 1):
        cv = b.visit("住院", "0501", b.at(cday, 8, 11), days=r.randint(2, 4))
        b.dx(cv, "chemo", primary=True)
        b.dx(cv, "breast_ca")
        wbc = r.uniform(2.2, 3.4) if r.random() < 0.35 else r.uniform(4.0, 8.0)
        hgb = r.uniform(85, 110) if r.random() < 0.3 else r.uniform(112, 140)
        b.routine_labs(cv, cv.start + timedelta(hours=3), WBC=wbc, HGB=hgb)
        for d in regimen:
            b.order(cv, d, cv.start + timedelta(hours=20), days=1, admins=1)
        b.operation(cv, "chemo", cv.start + timedelta(hours=20), anesthesia="无")
        cv.facts.update(
            story="chemo", cycle=cycle, regimen=regimen, days_since=(cday - last_chemo).days, cancer="breast"
        )
        last_chemo = cday
        cday += timedelta(days=21 + r.randint(0, 4))
    # endocrine therapy and follow-up chest CT (lung metastases for some)
    fu = b.visit("门诊", "0501", b.at(cday + timedelta(days=r.randint(60, 200))))
    b.dx(fu, "breast_ca", primary=True)
    if rec["er"]:
        b.order(fu, "letrozole" if b.person.age_on(fu.start.date()) >= 50 else "tamoxifen", fu.start, days=90)
    b.labs(fu, "肿瘤标志物", fu.start + timedelta(minutes=30), only=("CEA", "CA153"),
           CA153=r.uniform(40, 120) if h["metastasis"] else r.uniform(5, 22))  # fmt: skip
    b.imaging(
        fu, "chest_ct", fu.start + timedelta(hours=2), "lung_mets" if h["metastasis"] else "normal_chest"
    )
    if h["metastasis"]:
        b.dx(fu, "lung_met")


def cervical_cancer(b: StoryBuilder) -> None:
    r = b.rng
    comorbidities(b)
    h = b.patient.history
    stage = pick(r, ["IB1", "IB2", "IB3", "IIA1", "IIA2"])
    h.update(
        story="cervical",
        stage=stage,
        onset_m=r.randint(1, 8),
        histology=r.choices(["鳞状细胞癌", "腺癌"], [85, 15])[0],
    )
    day = b.person.index_date
    v0 = b.visit("门诊", "0301", b.at(day))
    b.dx(v0, "cervical_ca", primary=True)
    b.labs(v0, "肿瘤标志物", v0.start + timedelta(minutes=30), only=("SCC", "CEA"), SCC=r.uniform(1.8, 12.0))
    b.imaging(v0, "pelvis_mr", v0.start + timedelta(days=2), "cervix_mass")
    adm = b.at(day + timedelta(days=r.randint(7, 21)), 8, 11)
    v = b.visit("住院", "0301", adm, days=r.randint(9, 14))
    b.dx(v, "cervical_ca", primary=True)
    add_comorbidity_dx(b, v)
    b.routine_labs(v, adm + timedelta(hours=r.uniform(1, 3)))
    op_day = adm.date() + timedelta(days=2)
    op = b.operation(v, "lap_radical_hyst" if r.random() < 0.5 else "radical_hyst", b.at(op_day, 8, 11))
    op.details.update(blood_ml=pick(r, [100, 200, 300, 400]), nodes=r.randint(0, 3))
    b.order(v, "cefuroxime", op.start - timedelta(minutes=40), days=3)
    b.order(v, "enoxaparin", op.start + timedelta(hours=12), days=5)
    v.facts.update(story="cervical", op_day=op_day, pathology=True)
    cday = op_day + timedelta(days=r.randint(21, 35))
    last = cday
    for cycle in range(1, r.randint(4, 6) + 1):
        cv = b.visit("住院", "0501", b.at(cday, 8, 11), days=r.randint(2, 4))
        b.dx(cv, "chemo", primary=True)
        b.dx(cv, "cervical_ca")
        wbc = r.uniform(2.0, 3.4) if r.random() < 0.4 else r.uniform(4.0, 8.0)
        b.routine_labs(cv, cv.start + timedelta(hours=3), WBC=wbc, HGB=r.uniform(88, 130))
        b.order(cv, "docetaxel", cv.start + timedelta(hours=20), days=1, admins=1)
        b.order(cv, "carboplatin", cv.start + timedelta(hours=22), days=1, admins=1)
        b.operation(cv, "chemo", cv.start + timedelta(hours=20), anesthesia="无")
        cv.facts.update(story="chemo", cycle=cycle, regimen=["docetaxel", "carboplatin"],
                        days_since=(cday - last).days, cancer="cervical")  # fmt: skip
        last = cday
        cday += timedelta(days=21 + r.randint(0, 4))
