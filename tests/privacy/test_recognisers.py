"""The identifier recognisers: resident ids with the GB 11643 check digit, phones, numbers, dates, addresses, names."""

from __future__ import annotations

from medlake.privacy.lexicons import load_lexicons
from medlake.privacy.recognisers import (
    AddressRecogniser,
    NameRecogniser,
    Span,
    find_dates,
    find_ids,
    find_phones,
    find_record_numbers,
    id_check_digit,
    merge_spans,
    valid_resident_id,
)

# a well-known valid example (GB 11643 appendix style) and its check digit
VALID = "11010519491231002X"


def test_check_digit_and_validation() -> None:
    assert id_check_digit(VALID[:17]) == "X"
    assert valid_resident_id(VALID)
    assert valid_resident_id(VALID.lower())
    assert not valid_resident_id(VALID[:17] + "1")  # wrong check digit
    assert not valid_resident_id("110105194913310021")  # month 13


def test_ids_in_text_18_and_15_digits() -> None:
    text = f"身份证号{VALID}，旧证号110105491231002，化验单号12345678901234567890。"
    spans = find_ids(text)
    assert [s.text for s in spans] == [VALID, "110105491231002"]
    assert text[spans[0].start : spans[0].end] == VALID


def test_phones_mobile_landline_and_not_inside_hex() -> None:
    text = "手机13912345678，座机0571-87654321，(010)12345678，电话：87654321，哈希a13912345678b"
    found = {s.text for s in find_phones(text)}
    assert "13912345678" in found
    assert "0571-87654321" in found
    assert "(010)12345678" in found
    assert "87654321" in found
    assert len([s for s in find_phones(text) if "13912345678" in s.text]) == 1


def test_record_numbers_labelled_and_bare() -> None:
    text = "登记号：H00000123，住院号 2021000456，检查号:CT20210305001，编号A12"
    found = [s.text for s in find_record_numbers(text)]
    assert "H00000123" in found
    assert "2021000456" in found
    assert "CT20210305001" in found
    assert "A12" not in found


def test_dates_styles() -> None:
    text = "于2021年3月5日入院，2021-03-07出院，复查20210410，2020年12月随访"
    ds = find_dates(text)
    assert [(d.year, d.month, d.day, d.style) for d in ds] == [
        (2021, 3, 5, "zh"),
        (2021, 3, 7, "iso"),
        (2021, 4, 10, "compact"),
        (2020, 12, None, "zh"),
    ]


def test_addresses_street_level_and_bare_places() -> None:
    rec = AddressRecogniser(load_lexicons())
    text = "患者来自杭州，现住浙江省杭州市西湖区文三路123号5栋302室，籍贯不详。个人史：原籍北京市，久居当地。"
    found = [s.text for s in rec.find(text)]
    assert any(t.startswith("浙江省杭州市西湖区文三路123号") for t in found)
    assert "杭州" in found and "北京市" in found
    # short place names inside drug names are not places
    assert rec.find("予长春新碱1mg静推，长春西汀注射液") == []


def test_names_after_context_words_and_no_false_alarms() -> None:
    rec = NameRecogniser(load_lexicons())
    text = "患者张伟，其子王小明陪同，联系人：欧阳娜娜。主治医师：陈静。"
    assert [s.text for s in rec.find_by_context(text)] == ["张伟", "王小明", "欧阳娜娜", "陈静"]
    clinical = "患者于3天前无明显诱因出现发热。患者平素体健。患者于今日出院。患者由家属陪同。"
    assert rec.find_by_context(clinical) == []


def test_known_names_and_merge() -> None:
    spans = NameRecogniser.find_known("李四说李四好", {"李四", "", "李"})
    assert [(s.start, s.end) for s in spans] == [(0, 2), (3, 5)]
    merged = merge_spans([Span(0, 5, "ADDRESS", ""), Span(2, 9, "PHONE", ""), Span(12, 14, "NAME", "")])
    assert [(s.start, s.end, s.type) for s in merged] == [(0, 9, "PHONE"), (12, 14, "NAME")]
