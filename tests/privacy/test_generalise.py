"""Generalisation rungs: age bands with 90+, months, years, city and province."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from medlake.privacy.generalise import address_to, age_band, age_top, date_month, date_year, place_of


def test_age_bands_and_top_code() -> None:
    ages = pa.array([0, 4, 5, 44, 89, 90, 103, None])
    assert age_band(ages, 5).to_pylist() == ["0-4", "0-4", "5-9", "40-44", "85-89", "90+", "90+", None]
    assert age_band(ages, 10).to_pylist()[3] == "40-49"
    assert age_top(ages).to_pylist() == ["0", "4", "5", "44", "89", "90+", "90+", None]


def test_dates() -> None:
    d = pa.array([date(2021, 3, 5), None])
    assert date_month(d).to_pylist() == ["2021-03", None]
    assert date_year(d).to_pylist() == [2021, None]


def test_places() -> None:
    assert place_of("浙江省杭州市西湖区文三路1号") == ("浙江省", "杭州市")
    assert place_of("北京市海淀区中关村大街1号") == ("北京市", "北京市")
    assert place_of("不详") == (None, None)
    addrs = pa.array(["江苏省南京市鼓楼区中山路2号", None, "杭州市上城区"])
    assert address_to(addrs, "city").to_pylist() == ["南京市", None, "杭州市"]
    assert address_to(addrs, "province").to_pylist() == ["江苏省", None, "浙江省"]
