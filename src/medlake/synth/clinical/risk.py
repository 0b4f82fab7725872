"""The true-risk models behind the modelled outcomes: logistic functions of recorded features.

Every feature used here is written to a source (HIS dates and codes, LIS results, note values,
operations), so a model trained on the lake can recover the signal. ``truth/outcomes.csv`` keeps
each patient's true risk and drawn outcome.
"""

from __future__ import annotations

import math


def _logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def tapvc_reoperation_risk(
    age_days: int, weight_kg: float, obstruction: bool, cpb_min: int, tapvc_type: str, lactate: float
) -> float:
    """Re-operation after TAPVC repair (pulmonary vein stenosis): younger, lighter, obstructed,
    longer bypass, infracardiac/mixed anatomy and higher pre-operative lactate raise the risk."""
    z = (
        -2.1
        + 1.2 * obstruction
        + 0.014 * (cpb_min - 110)
        - 0.45 * (weight_kg - 4.0)
        - 0.35 * math.log(max(age_days, 1) / 40.0)
        + (0.9 if tapvc_type in ("心下型", "混合型") else 0.0)
        + 0.35 * (lactate - 2.0)
    )
    return _logistic(z)


def burn_shock_risk(tbsa: float, age: int, inhalation: bool, hours_to_fluid: float, lactate: float) -> float:
    """Burn shock within 48 h: larger burns, older age, inhalation injury, late fluid resuscitation
    and higher admission lactate raise the risk."""
    z = (
        -2.3
        + 0.085 * (tbsa - 20.0)
        + 0.03 * (age - 40)
        + 1.3 * inhalation
        + 0.3 * (hours_to_fluid - 2.0)
        + 0.5 * (lactate - 2.0)
    )
    return _logistic(z)
