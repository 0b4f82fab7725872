from __future__ import annotations

from datetime import datetime

import numpy as np

from medlake.cdss.fhir import features_from_prefetch, index_time, parse_time, read_prefetch
from medlake.models.toylake import toy_spec


def _bundle(*res: dict) -> dict:  # type: ignore[type-arg]
    return {"resourceType": "Bundle", "entry": [{"resource": r} for r in res]}


def test_parse_time_normalises_zones() -> None:
    assert parse_time("2024-03-03T09:00:00+08:00") == datetime(2024, 3, 3, 1, 0)
    assert parse_time("2024-03-03") == datetime(2024, 3, 3)
    assert parse_time("not a date") is None and parse_time(None) is None


def test_features_follow_the_spec_windows_and_aggregates() -> None:
    spec = toy_spec()
    pre = read_prefetch(
        {
            "patient": {"resourceType": "Patient", "gender": "female", "birthDate": "2024-01-01"},
            "procedures": _bundle(
                {
                    "resourceType": "Procedure",
                    "code": {"coding": [{"code": "35.8201"}]},
                    "performedDateTime": "2024-03-01T09:00:00",
                }
            ),
            "observations": _bundle(
                {
                    "resourceType": "Observation",
                    "code": {"coding": [{"code": "WT"}]},
                    "effectiveDateTime": "2024-02-01",
                    "valueQuantity": {"value": 9.9},
                },
                {
                    "resourceType": "Observation",
                    "code": {"coding": [{"code": "WT"}]},
                    "effectiveDateTime": "2024-02-28",
                    "valueQuantity": {"value": 3.1},
                },
                {
                    "resourceType": "Observation",
                    "code": {"coding": [{"code": "WT"}]},
                    "effectiveDateTime": "2024-02-29",
                    "valueQuantity": {"value": 3.3},
                },
                {
                    "resourceType": "Observation",
                    "code": {"coding": [{"code": "CPB"}]},
                    "effectiveDateTime": "2024-03-01T11:00:00",
                    "valueQuantity": {"value": 80},
                },
                {
                    "resourceType": "Observation",
                    "code": {"coding": [{"code": "CPB"}]},
                    "effectiveDateTime": "2024-03-01T12:00:00",
                    "valueQuantity": {"value": 95},
                },
            ),
            "conditions": _bundle(
                {
                    "resourceType": "Condition",
                    "code": {"coding": [{"code": "I28.801"}]},
                    "onsetDateTime": "2023-12-01",
                }
            ),
            "other": {"resourceType": "Encounter"},
        }
    )
    index = index_time(spec, pre)
    assert index == datetime(2024, 3, 1, 9)
    x = features_from_prefetch(spec, pre, index)
    # age 60 days, female, last weight in 7 days, max bypass time that day, obstruction too old for the window
    assert x.tolist() == [60.0, 0.0, 3.3, 95.0, 0.0]


def test_missing_types_stay_nan_but_empty_bundles_mean_none() -> None:
    spec = toy_spec()
    x = features_from_prefetch(spec, read_prefetch({"conditions": _bundle()}), datetime(2024, 3, 1))
    assert np.isnan(x[:4]).all() and x[4] == 0.0
    assert index_time(spec, read_prefetch(None)) is None
