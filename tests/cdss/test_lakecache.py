from __future__ import annotations

from pathlib import Path

import numpy as np

from medlake.cdm.lake import Lake
from medlake.cdss.lakecache import LakeSlice, sliced_connection
from medlake.models.extract import extract_person
from medlake.models.toylake import build_toy_lake, toy_spec


def test_slice_gives_the_same_features_with_fewer_rows(tmp_path: Path) -> None:
    d = tmp_path / "d"
    truth = build_toy_lake(d, n=60, seed=2)
    with Lake(d).transaction() as tx:  # rows no feature asks for
        tx.write(
            "measurement",
            "noise",
            [
                {
                    "measurement_id": 9_000_000 + i,
                    "person_id": 1000 + i,
                    "measurement_source_value": "HGB",
                    "value_as_number": 120.0,
                }
                for i in range(60)
            ],
        )
    spec = toy_spec()
    full, sliced = Lake(d).connect(), sliced_connection(Lake(d), [spec])
    for pid in sorted(truth)[:15]:
        a, ta = extract_person(full, spec, pid)
        b, tb = extract_person(sliced, spec, pid)
        assert ta == tb
        np.testing.assert_array_equal(a, b)
    n_full = full.execute("SELECT count(*) FROM measurement").fetchall()[0][0]
    n_sliced = sliced.execute("SELECT count(*) FROM measurement").fetchall()[0][0]
    assert n_sliced == n_full - 60
    assert sliced.execute(
        "SELECT count(*) FROM measurement WHERE measurement_source_value = 'HGB'"
    ).fetchall() == [(0,)]


def test_the_slice_keeps_every_persons_features_at_their_latest_index(tmp_path: Path) -> None:
    d = tmp_path / "d"
    truth = build_toy_lake(d, n=80, seed=6)
    spec = toy_spec()
    lake = LakeSlice(Lake(d), {"toy-v1": spec}, key="k")
    full = Lake(d).connect()
    assert set(lake.latest["toy-v1"]) == set(truth)  # the cohort: everyone with the index event
    for pid in sorted(truth):
        found = lake.at_latest_index("toy-v1", pid)
        assert found is not None
        x, at = extract_person(full, spec, pid)
        assert found[1] == at
        np.testing.assert_array_equal(found[0], x)
    outsider = max(truth) + 10_000
    assert lake.at_latest_index("toy-v1", outsider) is None
    assert lake.at_latest_index("other-v1", min(truth)) is None
    some = lake.at_latest_index("toy-v1", min(truth))
    assert some is not None
    some[0][:] = -1.0  # callers get a copy
    again = lake.at_latest_index("toy-v1", min(truth))
    assert again is not None and not (again[0] == -1.0).all()
    assert lake.person_id(str(min(truth))) == min(truth) and lake.person_id("nobody") is None
