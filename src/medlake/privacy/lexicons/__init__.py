"""The PII lexicons beside this module, parsed strictly (one entry a line, ``#`` comments).

``surnames.txt`` (single and compound Chinese surnames), ``regions.tsv`` (province → prefecture-level
city), ``kinship.txt`` (context words that precede a person's name) and ``name_stopchars.txt``
(characters that start ordinary clinical phrases and so cannot continue a name after a context word),
``name_followers.txt`` (characters that commonly follow a name: 体健, 陪同, 提供 ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from medlake.errors import VocabularyError

HERE = Path(__file__).resolve().parent


def _lines(name: str) -> list[str]:
    return parse_lines((HERE / name).read_text(encoding="utf-8"), name)


def parse_lines(text: str, name: str) -> list[str]:
    """One entry per line; blank lines and ``#`` comments skipped; an entry with spaces is an error."""
    out: list[str] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if any(ch.isspace() for ch in line):
            raise VocabularyError(f"{name}:{n}: one entry per line expected, got {line!r}")
        out.append(line)
    return out


@dataclass(frozen=True)
class Region:
    province: str
    city: str


@dataclass(frozen=True)
class Lexicons:
    surnames: frozenset[str]
    compound_surnames: frozenset[str]
    context_words: tuple[str, ...]
    name_stopchars: frozenset[str]
    name_followers: frozenset[str]
    regions: tuple[Region, ...]

    @property
    def provinces(self) -> list[str]:
        return sorted({r.province for r in self.regions})

    def city_to_province(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for r in self.regions:
            out[r.city] = r.province
            out[r.city.removesuffix("市")] = r.province
        return out


def _regions() -> tuple[Region, ...]:
    path = HERE / "regions.tsv"
    rows = path.read_text(encoding="utf-8").splitlines()
    if not rows or rows[0].split("\t") != ["province", "city"]:
        raise VocabularyError("regions.tsv: header must be 'province<TAB>city'")
    out = []
    for n, row in enumerate(rows[1:], 2):
        if not row.strip():
            continue
        parts = row.split("\t")
        if len(parts) != 2 or not all(parts):
            raise VocabularyError(f"regions.tsv:{n}: two non-empty columns expected")
        out.append(Region(parts[0], parts[1]))
    return tuple(out)


@lru_cache(maxsize=1)
def load_lexicons() -> Lexicons:
    surnames = _lines("surnames.txt")
    for s in surnames:
        if not 1 <= len(s) <= 2:
            raise VocabularyError(f"surnames.txt: {s!r} is not a one- or two-character surname")
    return Lexicons(
        surnames=frozenset(s for s in surnames if len(s) == 1),
        compound_surnames=frozenset(s for s in surnames if len(s) == 2),
        context_words=tuple(sorted(set(_lines("kinship.txt")), key=len, reverse=True)),
        name_stopchars=frozenset(_lines("name_stopchars.txt")),
        name_followers=frozenset(_lines("name_followers.txt")),
        regions=_regions(),
    )
