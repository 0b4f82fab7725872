from __future__ import annotations

from pathlib import Path

import numpy as np

from medlake.cdm.lake import Lake
from medlake.cdss.lakecache import sliced_connection
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
