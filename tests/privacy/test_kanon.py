"""k-anonymity: no equivalence class smaller than k after generalisation and suppression (counted)."""

from __future__ import annotations

import random
from collections import Counter

import pyarrow as pa
import pytest

from medlake.errors import DeidentificationError
from medlake.privacy.generalise import age_top
from medlake.privacy.kanon import anonymise, hierarchy_for, smallest_class

CITIES = ["杭州市", "宁波市", "温州市", "南京市", "苏州市", "无锡市", "上海市", "北京市"]


def _data(n: int, seed: int = 3) -> tuple[pa.Array, pa.Array, pa.Array]:
    rng = random.Random(seed)
    ages = pa.array([rng.randint(18, 100) for _ in range(n)])
    sexes = pa.array([rng.choice(["男", "女"]) for _ in range(n)])
    cities = pa.array([rng.choice(CITIES) if rng.random() > 0.02 else None for _ in range(n)])
    return ages, sexes, cities


@pytest.mark.parametrize("n", [40, 500])
def test_k5_over_age_sex_city_has_no_small_class(n: int) -> None:
    ages, sexes, cities = _data(n)
    hierarchies = [
        hierarchy_for("age", "age", age_top(ages), ages),
        hierarchy_for("sex", "sex", sexes, sexes),
        hierarchy_for("city", "city", cities, cities),
    ]
    values, keep, report = anonymise(hierarchies, 5, max_suppression=0.05)
    out = pa.table({c: v.filter(pa.array(keep)) for c, v in values.items()})
    counts = Counter(zip(*(out.column(c).to_pylist() for c in ("age", "sex", "city")), strict=True))
    assert out.num_rows > 0 and min(counts.values()) >= 5
    assert smallest_class(out, ["age", "sex", "city"]) == min(counts.values()) == report.smallest_class
    assert report.rows_suppressed == n - out.num_rows <= 0.05 * n
    assert report.classes == len(counts)
    assert set(report.levels) == {"age", "sex", "city"}


def test_k1_changes_nothing_and_bad_k() -> None:
    ages, sexes, _ = _data(20)
    h = [hierarchy_for("age", "age", age_top(ages), ages)]
    values, keep, report = anonymise(h, 1)
    assert keep.all() and report.levels == {"age": "as planned"}
    assert values["age"].to_pylist() == age_top(ages).to_pylist()
    with pytest.raises(DeidentificationError):
        anonymise(h, 0)


def test_tiny_population_suppressed_entirely() -> None:
    ages, sexes, _ = _data(3)
    h = [hierarchy_for("age", "age", age_top(ages), ages), hierarchy_for("sex", "sex", sexes, sexes)]
    _, keep, report = anonymise(h, 5)
    assert not keep.any() and report.rows_suppressed == 3
