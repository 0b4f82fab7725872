"""Time normalisation and value/unit extraction."""

from __future__ import annotations

from datetime import date

import pytest

from medlake.nlp.timex import cn_number, find_times, shift
from medlake.nlp.values import LabTable, ValueFinder

DOC = date(2021, 7, 1)


def _times(text: str, doc_date: date | None = DOC) -> list[tuple[str, str | None, str | None]]:
    return [
        (
            t.text,
            t.date_from.isoformat() if t.date_from else None,
            t.date_to.isoformat() if t.date_to else None,
        )
        for t in find_times(text, doc_date)
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021年6月10日入院", [("2021年6月10日", "2021-06-10", "2021-06-10")]),
        ("于6.10日复查", [("6.10日", "2021-06-10", "2021-06-10")]),
        ("2020-12-03出院", [("2020-12-03", "2020-12-03", "2020-12-03")]),
        ("12月25日发热", [("12月25日", "2020-12-25", "2020-12-25")]),
        ("2019年确诊", [("2019年", "2019-01-01", "2019-12-31")]),
        ("2021年3月发病", [("2021年3月", "2021-03-01", "2021-03-31")]),
        ("入院前3月余出现腹痛", [("入院前3月余", "2021-03-01", "2021-04-01")]),
        ("3天前出现发热", [("3天前", "2021-06-28", "2021-06-28")]),
        ("近1周乏力", [("近1周", "2021-06-24", "2021-07-01")]),
        ("昨日加重", [("昨日", "2021-06-30", "2021-06-30")]),
        ("半年前体检发现", [("半年前", "2021-01-01", "2021-01-01")]),
        ("两周前", [("两周前", "2021-06-17", "2021-06-17")]),
    ],
)
def test_times_against_document_date(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert _times(text) == expected


def test_times_against_events_in_the_note() -> None:
    text = "2021年6月10日行直肠癌根治术，术后第3天发热。2021-03-05行第1次化疗，化疗后15天复查。"
    got = _times(text)
    assert ("术后第3天", "2021-06-13", "2021-06-13") in got
    assert ("化疗后15天", "2021-03-20", "2021-03-20") in got


def test_event_relative_time_without_event_is_unresolved() -> None:
    assert _times("于术后2周拆线") == [("术后2周", None, None)]


def test_event_relative_time_speaking_of_the_note_day() -> None:
    (_today, t) = find_times("今日为术后第3天，患者一般情况可。", DOC)
    assert (t.date_from, t.event_date) == (DOC, date(2021, 6, 28))
    (t,) = find_times("入院第2天查房。", DOC)
    assert (t.date_from, t.event_date) == (DOC, date(2021, 6, 30))


def test_clock_time_is_part_of_the_expression() -> None:
    assert _times("入院时间：2024年1月7日 10时59分。记录时间：2024-01-07 12:04") == [
        ("2024年1月7日 10时59分", "2024-01-07", "2024-01-07"),
        ("2024-01-07 12:04", "2024-01-07", "2024-01-07"),
    ]
    assert _times("18余年前开始咳嗽") == [("18余年前", "2002-07-01", "2003-07-01")]


def test_without_document_date_relative_times_are_unresolved() -> None:
    assert _times("3天前发热，2021年6月10日入院", None) == [
        ("3天前", None, None),
        ("2021年6月10日", "2021-06-10", "2021-06-10"),
    ]


def test_decimal_numbers_are_not_dates() -> None:
    assert _times("HGB 6.10g/L") == []


def test_helpers() -> None:
    assert cn_number("十二") == 12
    assert cn_number("两") == 2
    assert cn_number("半") == 0.5
    assert cn_number("x") is None
    assert shift(date(2021, 3, 31), -1, "月") == date(2021, 2, 28)


@pytest.fixture(scope="module")
def vf() -> ValueFinder:
    return ValueFinder()


@pytest.mark.parametrize(
    ("text", "number", "high", "ucum", "kind"),
    [
        ("HGB 98g/L", 98.0, None, "g/L", "number"),
        ("WBC 3.3×10^9/L", 3.3, None, "10*9/L", "number"),
        ("WBC 3.3*10^9/L", 3.3, None, "10*9/L", "number"),
        ("结节14*12mm", 14.0, 12.0, "mm", "dims"),
        ("BP 120/80mmHg", 120.0, 80.0, "mm[Hg]", "pair"),
        ("T 36.5℃", 36.5, None, "Cel", "number"),
        ("P 80次/分", 80.0, None, "/min", "number"),
        ("K 3.5-5.5mmol/L", 3.5, 5.5, "mmol/L", "range"),
        ("面积3.5*2CM", 3.5, 2.0, "cm", "dims"),
        ("肌酐 85μmol/L", 85.0, None, "umol/L", "number"),
        ("CEA（+）", None, None, None, "qualitative"),
    ],
)
def test_values(
    vf: ValueFinder, text: str, number: float | None, high: float | None, ucum: str | None, kind: str
) -> None:
    values = vf.find(text)
    assert len(values) == 1
    v = values[0]
    assert (v.number, v.high, v.ucum, v.kind) == (number, high, ucum, kind)
    assert text[v.start : v.end] == v.text


def test_lab_table_needs_number_after_short_alias() -> None:
    labs = LabTable()
    assert [c.code for _, _, c in labs.find("T 36.5℃，P 80次/分")] == ["VS:TEMP", "VS:PULSE"]
    assert labs.find("T细胞") == []
    assert labs.lookup("hgb") is not None and labs.lookup("hgb").code == "LAB:HGB"  # type: ignore[union-attr]
