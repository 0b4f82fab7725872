"""The story builder every clinical pattern uses: visits, diagnoses, orders, operations, labs, imaging.

Numbers (visit, order, specimen, accession) come from ``Counters``, advanced in patient order, so
a run's numbering depends only on the seed and the number of patients.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from medlake.synth.model import (
    Diagnosis,
    DrugOrder,
    ImagingStudy,
    LabPanel,
    LabResult,
    Operation,
    Patient,
    Visit,
)
from medlake.synth.rand import pick
from medlake.synth.vocab import LabTest, Vocab

SURGEONS = ["王建国", "李志强", "张海峰", "刘明", "陈立新", "杨帆", "赵卫东", "孙红", "周文斌", "吴晓燕"]
PHYSICIANS = ["黄磊", "徐静", "马超", "朱丽", "胡斌", "郭敏", "何勇", "林芳", "高洁", "罗军"]
FREQ_PER_DAY = {"qd": 1, "bid": 2, "tid": 3, "qn": 1, "q3w": 1, "st": 1, "prn": 1}
FREQ_HOURS = {1: (9,), 2: (8, 20), 3: (8, 13, 18)}


@dataclass
class Counters:
    visit: int = 0
    order: int = 0
    specimen: int = 0
    accession: int = 0
    doc: int = 0
    admin: int = 0
    diag: int = 0
    op: int = 0


class StoryBuilder:
    """Adds events to one patient's record; every random draw comes from ``rng``."""

    def __init__(
        self,
        vocab: Vocab,
        rng: random.Random,
        counters: Counters,
        patient: Patient,
        seed: int,
        dicom_p: float,
    ) -> None:
        self.vocab = vocab
        self.rng = rng
        self.c = counters
        self.patient = patient
        self.person = patient.person
        self.seed = seed
        self.dicom_p = dicom_p

    # -- time helpers -------------------------------------------------------------------------
    def at(self, day: date, hour_lo: int = 8, hour_hi: int = 17) -> datetime:
        r = self.rng
        return datetime.combine(
            day, time(r.randint(hour_lo, hour_hi), r.randrange(0, 60), r.randrange(0, 60))
        )

    # -- visits ---------------------------------------------------------------------------------
    def visit(self, kind: str, dept: str, start: datetime, days: float = 0.0, discharge: str = "") -> Visit:
        self.c.visit += 1
        if kind == "住院":
            stay_end = start + timedelta(days=max(days, 1.0))
            end: datetime | None = stay_end.replace(
                hour=self.rng.randint(9, 16), minute=self.rng.randrange(60)
            )
            discharge = discharge or "医嘱离院"
        elif kind == "急诊":
            end = (
                start + timedelta(hours=self.rng.uniform(1, 6)) if days == 0 else start + timedelta(days=days)
            )
            discharge = discharge or "医嘱离院"
        else:
            end = None
        v = Visit(f"V{self.c.visit:010d}", kind, dept, self.vocab.departments[dept], start, end, discharge)
        self.patient.visits.append(v)
        return v

    def dx(self, v: Visit, key: str, primary: bool = False, when: datetime | None = None) -> Diagnosis:
        c = self.vocab.diagnoses[key]
        d = Diagnosis(c.code, c.name, primary, when or v.start, key)
        if primary:
            v.diagnoses.insert(0, d)
        else:
            v.diagnoses.append(d)
        return d

    def order(
        self,
        v: Visit,
        key: str,
        start: datetime,
        days: int = 1,
        dose: str | None = None,
        admins: int | None = None,
    ) -> DrugOrder:
        d = self.vocab.drugs[key]
        self.c.order += 1
        stop = start + timedelta(days=max(days, 1))
        o = DrugOrder(
            f"O{self.c.order:010d}", key, d.code, d.name, dose or d.dose, d.unit, d.route, d.freq, start, stop
        )
        if v.kind != "门诊":
            per_day = FREQ_PER_DAY.get(d.freq, 1)
            n = admins if admins is not None else min(days * per_day, 6)
            hours = FREQ_HOURS.get(per_day, (9,))
            t = start
            for i in range(n):
                if i == 0:
                    o.admin_times.append(start + timedelta(minutes=self.rng.randint(5, 40)))
                    continue
                day = start.date() + timedelta(days=i // per_day)
                t = datetime.combine(day, time(hours[i % per_day], self.rng.randrange(60)))
                if t <= o.admin_times[-1]:
                    t = o.admin_times[-1] + timedelta(hours=4)
                o.admin_times.append(t)
        v.orders.append(o)
        return o

    def operation(
        self, v: Visit, key: str, start: datetime, anesthesia: str = "全身麻醉", **details: float | int | str
    ) -> Operation:
        c = self.vocab.operations[key]
        op = Operation(
            key, c.code, c.name, start.date(), pick(self.rng, SURGEONS), anesthesia, start, dict(details)
        )
        v.operations.append(op)
        return op

    # -- labs ----------------------------------------------------------------------------------
    def _range(self, t: LabTest) -> tuple[float, float]:
        lo, hi = (t.low_f, t.high_f) if self.person.sex == "2" else (t.low_m, t.high_m)
        return float(lo or 0.0), float(hi or 0.0)

    def lab_value(self, abbr: str, value: float | str | None = None) -> LabResult:
        t = self.vocab.labs[abbr]
        if not t.numeric:
            text = str(value)
            flag = "N" if ("阴性" in text or "无扩增" in text or text.startswith("0")) else "A"
            if abbr == "Ki-67":
                flag = "H" if float(text) >= 20 else "N"
            return LabResult(abbr, text, flag)
        lo, hi = self._range(t)
        if value is None:
            margin = (hi - lo) * 0.12
            value = self.rng.uniform(lo + margin, hi - margin)
        v = round(float(value), t.decimals)
        text = f"{v:.{t.decimals}f}"
        flag = "H" if v > hi else "L" if v < lo else "N"
        return LabResult(abbr, text, flag)

    def labs(
        self, v: Visit, panel: str, when: datetime, only: tuple[str, ...] = (), **values: float | str
    ) -> LabPanel:
        """One specimen: every test of ``panel`` (or ``only`` those), ``values`` override the normal draw."""
        self.c.specimen += 1
        abbrs = only or tuple(a for a, t in self.vocab.labs.items() if t.panel == panel)
        results = [self.lab_value(a, values.get(a.replace("-", "_").replace("%", "_pct"))) for a in abbrs]
        p = LabPanel(f"S{self.c.specimen:010d}", panel, when, results)
        v.labs.append(p)
        return p

    def routine_labs(self, v: Visit, when: datetime, **values: float | str) -> None:
        self.labs(v, "血常规", when, **values)  # type: ignore[arg-type]
        self.labs(v, "肝功能", when, **values)  # type: ignore[arg-type]
        if "CREA" in values or self.rng.random() < 0.8:
            crea = float(values.get("CREA", 0) or 0)
            if not crea:
                lo, hi = self._range(self.vocab.labs["CREA"])
                crea = self.rng.uniform(lo + 5, hi - 5)
            egfr = max(5.0, min(140.0, 100.0 * ((70.0 if self.person.sex == "2" else 85.0) / crea) ** 1.1))
            egfr -= max(0, self.person.age_on(when.date()) - 40) * 0.6
            self.labs(
                v,
                "肾功能",
                when,
                CREA=crea,
                eGFR=max(egfr, 5.0),
                **{k: x for k, x in values.items() if k == "BUN"},  # type: ignore[arg-type]
            )

    # -- imaging -------------------------------------------------------------------------------
    def imaging(self, v: Visit, key: str, when: datetime, finding: str) -> ImagingStudy:
        self.c.accession += 1
        acc = f"A{self.c.accession:010d}"
        study = ImagingStudy(acc, key, when, finding)
        study.study_uid = uid(self.seed, acc, "study")
        study.series_uid = uid(self.seed, acc, "series")
        study.write_dicom = self.rng.random() < self.dicom_p
        v.imaging.append(study)
        return study


def uid(seed: int, accession: str, what: str, n: int = 0) -> str:
    """A DICOM UID under the 2.25 (UUID-derived) root, deterministic in seed and accession."""
    digest = hashlib.md5(f"{seed}|{accession}|{what}|{n}".encode()).digest()
    return "2.25." + str(int.from_bytes(digest, "big"))
