"""The HL7 v2 parser: separators, escapes, repetitions, batches, broken messages, timestamps."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from medlake.errors import VocabularyError
from medlake.ingest.hl7v2_map import parse_number, parse_range
from medlake.ingest.hl7v2_parse import (
    BrokenMessage,
    Message,
    Separators,
    parse_separators,
    parse_ts,
    split_messages,
    unescape,
)
from medlake.ingest.units import load_units, to_ucum

SEPS = Separators()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (r"A\F\B", "A|B"),
        (r"A\S\B", "A^B"),
        (r"A\T\B", "A&B"),
        (r"A\R\B", "A~B"),
        (r"A\E\B", "A\\B"),
        ("\\XE4B8AD\\", "中"),
        (r"line1\.br\line2", "line1\nline2"),
        ("\\H\\bold\\N\\", "bold"),
        ("\\Q\\", "\\Q\\"),  # unknown escapes stay literal
        ("no escapes", "no escapes"),
        ("dangling \\", "dangling \\"),
    ],
)
def test_unescape(raw: str, expected: str) -> None:
    assert unescape(raw, SEPS) == expected


def test_custom_separators_are_read_from_msh() -> None:
    seps = parse_separators("MSH#@*!$#APP")
    assert (seps.field, seps.component, seps.repetition, seps.escape, seps.subcomponent) == (
        "#",
        "@",
        "*",
        "!",
        "$",
    )
    with pytest.raises(ValueError):
        parse_separators("MSH|")


def test_batch_split_skips_envelopes_and_counts_stray_segments() -> None:
    text = (
        "\ufeffFHS|^~\\&|LIS\r\nBHS|^~\\&|LIS\r\n"
        "MSH|^~\\&|LIS|H||H|20240101||ORU^R01|M1|P|2.5\rPID|1||L1^^^LIS^PI\r"
        "OBX|1|NM|GLU^葡萄糖^LOCAL||5.6|mmol/L\r"
        "BTS|1\rNTE|stray\r"
        "MSH|^~\\&|LIS|H||H|20240101||ORU^R01|M2|P|2.5\nPID|1||L2\n"
        "FTS|1"
    )
    parsed = split_messages(text)
    assert parsed.stray_segments == 1
    assert [m.control_id for m in parsed.messages if isinstance(m, Message)] == ["M1", "M2"]
    first = parsed.messages[0]
    assert isinstance(first, Message)
    assert first.message_type == "ORU^R01"
    obx = first.first("OBX")
    assert obx is not None and obx.get(3, 2) == "葡萄糖" and obx.get(5) == "5.6"


def test_escaped_separator_does_not_split_a_field() -> None:
    parsed = split_messages("MSH|^~\\&|A|B|C|D|2024||ORU^R01|X|P|2.5\rOBX|1|ST|C||a\\F\\b~c\\S\\d|")
    msg = parsed.messages[0]
    assert isinstance(msg, Message)
    obx = msg.first("OBX")
    assert obx is not None
    assert obx.get(5) == "a|b"
    assert obx.get(5, rep=1) == "c^d"
    assert obx.get(5, rep=2) == ""


def test_broken_messages_are_reported_not_raised() -> None:
    text = (
        "MSH|^~\\&|A|B|C|D|2024||ORU^R01|OK1|P|2.5\rPID|1||P1\r"
        "MSH|^~\\&|A|B|C|D|2024||ORU^R01|BAD1|P|2.5\rthis is not a segment\r"
        "MSH|^~\\&|A|B|C|D|2024|||BAD2|P|2.5\r"
        "MSH|^\r"
    )
    parsed = split_messages(text)
    kinds = [type(m).__name__ for m in parsed.messages]
    assert kinds == ["Message", "BrokenMessage", "BrokenMessage", "BrokenMessage"]
    reasons = [m.reason for m in parsed.messages if isinstance(m, BrokenMessage)]
    assert "invalid segment name" in reasons[0]
    assert "MSH-9" in reasons[1]
    assert "too short" in reasons[2]
    assert parsed.messages[1].control_id == "BAD1"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("20141006064500+0700", datetime(2014, 10, 6, 6, 45)),
        ("202401021530", datetime(2024, 1, 2, 15, 30)),
        ("20240102", datetime(2024, 1, 2)),
        ("20240102153012.1234", datetime(2024, 1, 2, 15, 30, 12)),
        ("2024", datetime(2024, 1, 1)),
        ("20241302", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_ts(raw: str, expected: datetime | None) -> None:
    assert parse_ts(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("3.5-5.5", (3.5, 5.5)),
        ("70_105", (70.0, 105.0)),
        ("<5", (None, 5.0)),
        (">60", (60.0, None)),
        ("neg", (None, None)),
    ],
)
def test_parse_range(raw: str, expected: tuple[float | None, float | None]) -> None:
    assert parse_range(raw) == expected


def test_parse_number_with_operator() -> None:
    assert parse_number("12.5") == (12.5, None)
    assert parse_number("<0.1") == (0.1, 4171756)
    assert parse_number("阴性") == (None, None)


def test_unit_map_is_parsed_strictly(tmp_path: Path) -> None:
    assert to_ucum(" MG/DL ") == "mg/dL"
    assert to_ucum("10*9/L") == "10*9/L"  # a UCUM code maps to itself
    assert to_ucum("furlongs") is None and to_ucum("") is None
    for body, problem in [
        ("unit,ucum\n%,%\n", "header"),
        ("source_unit,ucum_code\nmg/dl,mg/dL\nMG/DL,mg/dL\n", "duplicate"),
        ("source_unit,ucum_code\nmg/dl,\n", "two non-empty"),
    ]:
        f = tmp_path / "units.csv"
        f.write_text(body, encoding="utf-8")
        with pytest.raises(VocabularyError, match=problem):
            load_units(f)
