"""Generalisation of single columns (Arrow arrays in, Arrow arrays out), vectorised.

Ages become bands (``40-44``) with every age over 89 as ``90+`` (HIPAA Safe Harbor); dates become
``YYYY-MM`` or the year; an address becomes its city or province (from the regions lexicon).
These are also the rungs of the k-anonymity hierarchies in ``medlake.privacy.kanon``.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from medlake.privacy.lexicons import load_lexicons

TOP_AGE = 90


def _ages(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    arr = pc.cast(values, pa.float64()) if values.type != pa.float64() else values
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    mask = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    nums = np.asarray(arr.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.float64)
    return np.floor(nums).astype(np.int64), mask


def age_band(values: pa.Array | pa.ChunkedArray, width: int = 5) -> pa.Array:
    """``40-44`` style bands of ``width`` years; ``90+`` for 90 and over; null stays null."""
    ages, null = _ages(values)
    ages = np.clip(ages, 0, None)
    lo = (ages // width) * width
    hi = np.minimum(lo + width - 1, TOP_AGE - 1)
    labels = np.char.add(np.char.add(lo.astype(str), "-"), hi.astype(str))
    labels = np.where(ages >= TOP_AGE, f"{TOP_AGE}+", labels)
    if width == 1:
        labels = np.where(ages >= TOP_AGE, f"{TOP_AGE}+", ages.astype(str))
    return pa.array(labels.tolist(), type=pa.string(), mask=null)


def age_top(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Exact ages below 90, ``90+`` above (Safe Harbor), as text."""
    return age_band(values, 1)


def date_month(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.strftime(pc.cast(values, pa.timestamp("s")), format="%Y-%m")


def date_year(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.cast(pc.year(values), pa.int32())


@lru_cache(maxsize=1)
def _place_patterns() -> tuple[re.Pattern[str], dict[str, tuple[str, str]]]:
    lex = load_lexicons()
    lookup: dict[str, tuple[str, str]] = {}
    for r in lex.regions:
        lookup[r.city] = (r.province, r.city)
        lookup[r.city.removesuffix("市")] = (r.province, r.city)
    for p in lex.provinces:
        lookup.setdefault(p, (p, ""))
        short = p.removesuffix("省").removesuffix("市")
        if len(short) >= 2:
            lookup.setdefault(short, (p, ""))
    alternation = "|".join(re.escape(n) for n in sorted(lookup, key=len, reverse=True))
    return re.compile(alternation), lookup


def place_of(address: str | None) -> tuple[str | None, str | None]:
    """(province, city) named in an address; a municipality is its own city."""
    if not address:
        return None, None
    pattern, lookup = _place_patterns()
    province: str | None = None
    city: str | None = None
    for m in pattern.finditer(address):
        p, c = lookup[m.group(0)]
        province = province or p
        if c and city is None:
            city = c
        if province and city:
            break
    if province and city is None and province.endswith("市"):
        city = province  # 北京市, 上海市, ...
    return province, city


def address_to(values: pa.Array | pa.ChunkedArray, level: str) -> pa.Array:
    """Addresses generalised to ``city`` or ``province``; unknown places become null."""
    index = 1 if level == "city" else 0
    cache: dict[str, str | None] = {}
    out: list[str | None] = []
    for v in values.to_pylist():
        if v not in cache:
            cache[v] = place_of(v)[index]
        out.append(cache[v])
    return pa.array(out, type=pa.string())


def city_to_province(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return address_to(values, "province")
