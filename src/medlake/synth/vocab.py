"""The synthetic hospital's vocabularies: TSV data files beside this module, parsed strictly.

Each file has a fixed header; a missing or extra column, an unknown header or a bad number is a
``VocabularyError`` (never a silent default). ``load_vocab()`` reads them all once per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from medlake.errors import VocabularyError

_HEADERS: dict[str, tuple[str, ...]] = {
    "surnames.tsv": ("surname", "weight"),
    "given_chars.tsv": ("char", "sex", "weight"),
    "homophones.tsv": ("char", "alternatives"),
    "ethnicities.tsv": ("code", "name", "weight"),
    "regions.tsv": ("code", "province", "city", "district", "weight"),
    "streets.tsv": ("street",),
    "departments.tsv": ("code", "name"),
    "diagnoses.tsv": ("key", "code", "name"),
    "operations.tsv": ("key", "code", "name"),
    "drugs.tsv": ("key", "code", "name", "dose", "unit", "route", "freq"),
    "labs.tsv": ("code", "abbr", "name", "unit", "low_m", "high_m", "low_f", "high_f", "decimals", "panel"),
    "imaging.tsv": ("key", "modality", "body_part", "exam", "description"),
}


def read_table(name: str) -> list[tuple[str, ...]]:
    """Rows of one data file (header checked, every row the header's width)."""
    expected = _HEADERS.get(name)
    if expected is None:
        raise VocabularyError(f"unknown synth data file {name!r}")
    text = resources.files("medlake.synth").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or tuple(lines[0].split("\t")) != expected:
        raise VocabularyError(f"{name}: header must be {' | '.join(expected)}")
    rows: list[tuple[str, ...]] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = tuple(line.split("\t"))
        if len(cells) != len(expected):
            raise VocabularyError(f"{name}:{lineno}: expected {len(expected)} columns, got {len(cells)}")
        rows.append(cells)
    if not rows:
        raise VocabularyError(f"{name}: no rows")
    return rows


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise VocabularyError(f"{name}: {value!r} is not an integer") from exc


def _float(name: str, value: str) -> float | None:
    if value == "":
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise VocabularyError(f"{name}: {value!r} is not a number") from exc


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    province: str
    city: str
    district: str


@dataclass(frozen=True, slots=True)
class Coded:
    key: str
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Drug:
    key: str
    code: str
    name: str
    dose: str
    unit: str
    route: str
    freq: str


@dataclass(frozen=True, slots=True)
class LabTest:
    code: str
    abbr: str
    name: str
    unit: str
    low_m: float | None
    high_m: float | None
    low_f: float | None
    high_f: float | None
    decimals: int
    panel: str

    @property
    def numeric(self) -> bool:
        return self.low_m is not None


@dataclass(frozen=True, slots=True)
class ImagingExam:
    key: str
    modality: str
    body_part: str
    exam: str
    description: str


@dataclass(frozen=True)
class Vocab:
    surnames: list[str]
    surname_weights: list[int]
    given_by_sex: dict[str, list[str]]
    given_weights_by_sex: dict[str, list[int]]
    homophones: dict[str, list[str]]
    ethnicities: list[tuple[str, str]]
    ethnicity_weights: list[int]
    regions: list[Region]
    region_weights: list[int]
    streets: list[str]
    departments: dict[str, str]
    diagnoses: dict[str, Coded]
    operations: dict[str, Coded]
    drugs: dict[str, Drug]
    labs: dict[str, LabTest]
    imaging: dict[str, ImagingExam]


def _keyed(name: str) -> dict[str, Coded]:
    out: dict[str, Coded] = {}
    for key, code, label in read_table(name):
        if key in out:
            raise VocabularyError(f"{name}: duplicate key {key!r}")
        out[key] = Coded(key, code, label)
    return out


@lru_cache(maxsize=1)
def load_vocab() -> Vocab:
    """Every vocabulary, parsed and checked (cached per process)."""
    surn = read_table("surnames.tsv")
    given: dict[str, list[str]] = {"1": [], "2": []}
    gweights: dict[str, list[int]] = {"1": [], "2": []}
    for char, sex, weight in read_table("given_chars.tsv"):
        if sex not in ("0", "1", "2"):
            raise VocabularyError(f"given_chars.tsv: sex must be 0, 1 or 2, not {sex!r}")
        for s in ("1", "2") if sex == "0" else (sex,):
            given[s].append(char)
            gweights[s].append(_int("given_chars.tsv", weight))
    homo: dict[str, list[str]] = {}
    for char, alts in read_table("homophones.tsv"):
        homo[char] = [a for a in alts.split(",") if a]
    eth = read_table("ethnicities.tsv")
    reg = read_table("regions.tsv")
    labs: dict[str, LabTest] = {}
    for code, abbr, lname, unit, lm, hm, lf, hf, dec, panel in read_table("labs.tsv"):
        labs[abbr] = LabTest(
            code,
            abbr,
            lname,
            unit,
            _float("labs.tsv", lm),
            _float("labs.tsv", hm),
            _float("labs.tsv", lf),
            _float("labs.tsv", hf),
            _int("labs.tsv", dec) if dec else 0,
            panel,
        )
    return Vocab(
        surnames=[r[0] for r in surn],
        surname_weights=[_int("surnames.tsv", r[1]) for r in surn],
        given_by_sex=given,
        given_weights_by_sex=gweights,
        homophones=homo,
        ethnicities=[(r[0], r[1]) for r in eth],
        ethnicity_weights=[_int("ethnicities.tsv", r[2]) for r in eth],
        regions=[Region(r[0], r[1], r[2], r[3]) for r in reg],
        region_weights=[_int("regions.tsv", r[4]) for r in reg],
        streets=[r[0] for r in read_table("streets.tsv")],
        departments={r[0]: r[1] for r in read_table("departments.tsv")},
        diagnoses=_keyed("diagnoses.tsv"),
        operations=_keyed("operations.tsv"),
        drugs={r[0]: Drug(*r) for r in read_table("drugs.tsv")},
        labs=labs,
        imaging={r[0]: ImagingExam(*r) for r in read_table("imaging.tsv")},
    )
