"""Resident ids, pinyin and masking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medlake.errors import SchemaError
from medlake.mpi import noisy
from medlake.mpi.identity import char_pinyin, mask, name_pinyin, resident_id_check_digit, valid_resident_id
from medlake.mpi.noisy import noisy_population, resident_id


def test_check_digit_of_the_standard_example() -> None:
    # the example printed in GB 11643-1999
    assert resident_id_check_digit("11010519491231002") == "X"
    assert valid_resident_id("11010519491231002X")
    assert valid_resident_id("11010519491231002x")
    assert not valid_resident_id("110105194912310021")
    assert not valid_resident_id("1101051949123100")
    assert not valid_resident_id("")
    with pytest.raises(ValueError):
        resident_id_check_digit("1101")


def test_generated_resident_ids_are_valid() -> None:
    rows, _ = noisy_population(50, seed=3)
    rids = [r["resident_id"] for r in rows if r["resident_id"]]
    assert rids and all(valid_resident_id(r) for r in rids)


def test_homophones_share_pinyin_and_pinyin_names_normalise() -> None:
    table = char_pinyin("张章伟玮王汪")
    assert name_pinyin("张伟", table) == name_pinyin("章玮", table) == ("zhangwei", "zhang")
    assert name_pinyin("王 伟", table) == ("wangwei", "wang")
    assert name_pinyin("ZHANG^WEI", table) == ("zhangwei", "zhang")
    assert name_pinyin("Zhang Wei", table) == ("zhangwei", "zhang")
    assert name_pinyin("", table) == (None, None)
    assert name_pinyin(None, table) == (None, None)
    assert name_pinyin("李", {}) != name_pinyin("张", {})


def test_mask_keeps_only_a_hint() -> None:
    assert mask("张伟") == "张*"
    assert mask("13812345678") == "138****5678"
    assert mask("11010519491231002X") == "110***********002X"
    assert mask(None) == "" and mask("") == ""
    assert resident_id("110105", __import__("datetime").date(1949, 12, 31), 2) == "11010519491231002X"


def test_noisy_vocabulary_is_parsed_strictly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(noisy._VOCAB_FILE.read_text(encoding="utf-8"))
    data["surname"] = data.pop("surnames")  # a typo must not pass silently
    bad = tmp_path / "noisy_vocab.json"
    bad.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(noisy, "_VOCAB_FILE", bad)
    noisy._vocab.cache_clear()
    try:
        with pytest.raises(SchemaError):
            noisy_population(1)
    finally:
        noisy._vocab.cache_clear()
