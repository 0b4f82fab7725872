"""A tiny lake with a known risk model, for examples, tests and trying the CDS service offline.

``build_toy_lake(data_dir, n, seed)`` writes persons who had a cardiac repair (procedure
``35.8201``) with a weight and a bypass time measured, some with pulmonary venous obstruction
(``I28.801``) before surgery; each re-operation (``35.9901``) within a year follows a logistic
risk of those features. ``TOY_TASK`` is the matching task spec; ``toy_truth`` the true risks.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from medlake.cdm.lake import Lake
from medlake.models.spec import TaskSpec

TOY_TASK: dict[str, Any] = {
    "name": "toy_reoperation",
    "title": "Re-operation within a year after repair (toy)",
    "source": {"kind": "index_event", "domain": "procedure", "match": {"codes": ["35.82*"]}},
    "features": [
        {"kind": "demographic", "name": "age_days", "field": "age_days"},
        {"kind": "demographic", "name": "male", "field": "sex_male"},
        {
            "kind": "measurement",
            "name": "weight_kg",
            "match": {"codes": ["WT"]},
            "agg": "last",
            "window": {"start_days": -7, "end_days": 0},
        },
        {
            "kind": "measurement",
            "name": "cpb_min",
            "match": {"codes": ["CPB"]},
            "agg": "max",
            "window": {"start_days": 0, "end_days": 0},
        },
        {
            "kind": "condition",
            "name": "pvo",
            "match": {"codes": ["I28.8*"]},
            "window": {"start_days": -30, "end_days": 0},
        },
    ],
    "outcome": {
        "domain": "procedure",
        "match": {"codes": ["35.99*"]},
        "time_at_risk": {"start_days": 1, "end_days": 365},
    },
    "algorithm": {"name": "lasso", "grid": {"C": [1.0]}},
    "split": {"folds": 3},
    "bands": {"low_below": 0.15, "high_from": 0.4},
}


def toy_spec(**overrides: Any) -> TaskSpec:
    return TaskSpec.model_validate(TOY_TASK | overrides)


def build_toy_lake(data_dir: Path, n: int = 400, seed: int = 7) -> dict[int, float]:
    """Write the toy lake; returns ``{person_id: true risk}``."""
    rng = np.random.default_rng(seed)
    persons, procs, meas, conds = [], [], [], []
    truth: dict[int, float] = {}
    base = date(2020, 1, 1)
    for i in range(n):
        pid = 1000 + i
        surgery = base + timedelta(days=int(rng.integers(0, 900)))
        age_days = int(rng.integers(5, 400))
        birth = surgery - timedelta(days=age_days)
        male = int(rng.random() < 0.55)
        weight = max(1.8, 3.0 + age_days / 120 + rng.normal(0, 0.6))
        cpb = float(rng.normal(95, 25))
        pvo = int(rng.random() < 0.3)
        lp = -2.2 + 1.4 * pvo + 0.025 * (cpb - 95) - 0.35 * (weight - 5) - 0.002 * (age_days - 200)
        risk = float(1 / (1 + np.exp(-lp)))
        truth[pid] = risk
        persons.append(
            {
                "person_id": pid,
                "gender_concept_id": 8507 if male else 8532,
                "year_of_birth": birth.year,
                "month_of_birth": birth.month,
                "day_of_birth": birth.day,
                "birth_datetime": datetime(birth.year, birth.month, birth.day),
                "person_source_value": f"H{pid:08d}",
            }
        )
        ts = datetime(surgery.year, surgery.month, surgery.day, 9)
        procs.append(_proc(10 * pid, pid, "35.8201", surgery, ts))
        meas.append(_meas(10 * pid, pid, "WT", round(weight, 2), surgery - timedelta(days=1)))
        if rng.random() > 0.1:  # bypass time is sometimes not recorded
            meas.append(_meas(10 * pid + 1, pid, "CPB", round(cpb, 1), surgery))
        if pvo:
            conds.append(
                {
                    "condition_occurrence_id": 10 * pid,
                    "person_id": pid,
                    "condition_source_value": "I28.801",
                    "condition_start_date": surgery - timedelta(days=3),
                }
            )
        if rng.random() < risk:
            later = surgery + timedelta(days=int(rng.integers(5, 300)))
            procs.append(
                _proc(10 * pid + 1, pid, "35.9901", later, datetime(later.year, later.month, later.day, 10))
            )
    with Lake(data_dir).transaction() as tx:
        tx.write("person", "toy", persons)
        tx.write("procedure_occurrence", "toy", procs)
        tx.write("measurement", "toy", meas)
        tx.write("condition_occurrence", "toy", conds)
    return truth


def _proc(rid: int, pid: int, code: str, d: date, ts: datetime) -> dict[str, Any]:
    return {
        "procedure_occurrence_id": rid,
        "person_id": pid,
        "procedure_source_value": code,
        "procedure_date": d,
        "procedure_datetime": ts,
    }


def _meas(rid: int, pid: int, code: str, value: float, d: date) -> dict[str, Any]:
    return {
        "measurement_id": rid,
        "person_id": pid,
        "measurement_source_value": code,
        "measurement_date": d,
        "measurement_datetime": datetime(d.year, d.month, d.day, 8),
        "value_as_number": value,
    }
