"""The free-text scrubber: placeholders, per-patient names, consistent date shifts."""

from __future__ import annotations

from medlake.privacy.scrubber import PatientContext, Scrubber

NOTE = (
    "患者张伟，男，65岁，身份证号11010519491231002X，联系电话13912345678，"
    "家住浙江省杭州市西湖区文三路123号5栋302室。登记号：H00000123。于2021年3月5日入院，"
    "2021-03-09行手术。其子王小明陪同。伟哥说张伟今天好些。"
)


def test_every_identifier_replaced_and_clinical_text_kept() -> None:
    ctx = PatientContext(names={"张伟"}, shift_days=-7)
    out = Scrubber().scrub(NOTE, ctx).text
    for leaked in (
        "张伟",
        "11010519491231002X",
        "13912345678",
        "文三路",
        "H00000123",
        "王小明",
        "2021年3月5日",
    ):
        assert leaked not in out
    for placeholder in ("[姓名]", "[身份证号]", "[电话]", "[地址]", "[编号]"):
        assert placeholder in out
    assert "2021年2月26日入院" in out  # shifted by -7 days, same format
    assert "2021-03-02行手术" in out
    assert "65岁" in out and "行手术" in out


def test_same_patient_same_shift_and_month_without_shift() -> None:
    s = Scrubber()
    a = s.scrub("2021年3月5日", PatientContext(shift_days=10)).text
    b = s.scrub("复查于2021年3月5日", PatientContext(shift_days=10)).text
    assert a == "2021年3月15日" and b.endswith("2021年3月15日")
    assert s.scrub("2021年3月5日入院", PatientContext()).text == "2021年3月入院"
    assert Scrubber(date_mode="placeholder").scrub("2021-03-05", None).text == "[日期]"


def test_registry_identifiers_looked_up_exactly() -> None:
    ctx = PatientContext(names={"赵钱"}, identifiers={"P0000123"}, addresses={"幸福小区3幢"})
    out = Scrubber().scrub("赵钱的影像号P0000123，住幸福小区3幢", ctx).text
    assert "赵钱" not in out and "P0000123" not in out and "幸福小区3幢" not in out


def test_empty_text() -> None:
    assert Scrubber().scrub(None).text == ""
    assert Scrubber().scrub("").spans == []


def test_other_cohort_members_names_scrubbed_too() -> None:
    s = Scrubber(cohort_names={"欧阳明华", "高峰", "李建国"})
    out = s.scrub("同病房李建国、欧阳明华血压高峰期已过", PatientContext()).text
    assert "李建国" not in out and "欧阳明华" not in out
    assert "高峰期" in out  # two-character names are only looked up per patient


def test_email_scrubbed() -> None:
    out = Scrubber().scrub("家属邮箱zhang.san+1@example.com.cn，请回复", None).text
    assert out == "家属邮箱[邮箱]，请回复"


def test_ages_over_89_generalised() -> None:
    out = Scrubber().scrub("患者女，93岁，其夫101 岁，其子65岁，体温39.5℃", None).text
    assert out == "患者女，90以上岁，其夫90以上 岁，其子65岁，体温39.5℃"
