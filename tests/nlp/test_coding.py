"""ICD-10 coding: exact, normalised and fuzzy matches with scores and alternatives."""

from __future__ import annotations

from pathlib import Path

import pytest

from medlake.errors import LexiconError
from medlake.nlp.coding import IcdCoder


@pytest.fixture(scope="module")
def coder(code_table: Path) -> IcdCoder:
    return IcdCoder.from_csv(code_table)


def test_exact(coder: IcdCoder) -> None:
    c = coder.code("肺炎")
    assert c is not None and (c.code, c.score, c.method) == ("J18.901", 1.0, "exact")


@pytest.mark.parametrize(
    ("term", "code"),
    [
        ("肺转移", "C78.001"),
        ("直肠腺癌（中低度分化）", "C20xx01"),
        ("右肺上叶腺癌", "C34.104"),
        ("高血压病", "I10xx11"),
        ("转移", "C80xx01"),
    ],
)
def test_normalised(coder: IcdCoder, term: str, code: str) -> None:
    c = coder.code(term)
    assert c is not None
    assert (c.code, c.method, c.score) == (code, "normalised", 0.95)


def test_fuzzy_with_alternatives(coder: IcdCoder) -> None:
    c = coder.code("慢性胆囊结石")
    assert c is not None and c.method == "fuzzy" and c.code == "K80.201"
    assert 0.5 <= c.score < 0.95


def test_no_code_for_unrelated_text(coder: IcdCoder) -> None:
    assert coder.code("阿司匹林") is None


def test_exact_lists_alternatives(coder: IcdCoder) -> None:
    c = coder.code("2型糖尿病")
    assert c is not None and c.code == "E11.901"
    assert any(a[0] == "E14.901" for a in c.alternatives)


def test_bad_code_table(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("code\nA00\n", "utf-8")
    with pytest.raises(LexiconError):
        IcdCoder.from_csv(bad)
