"""A noisy multi-system patient population for testing and benchmarking the master patient index.

``noisy_population(n, seed)`` draws ``n`` real people and writes, for each, one HIS record (the
anchor) plus records in LIS, PACS, EMR and PARTNER with the identity noise real hospitals show:
different local ids per system, homophone name typos (张伟 → 章伟), day/month of birth swapped,
missing resident ids, PACS names in pinyin, phone typos and abbreviated addresses. It returns the
``source_person`` rows and the truth (``person_key, system, local_id``), in the shape of
``truth/identity.csv`` written by ``medlake synth``. Common surnames and given names are drawn
with realistic skew so that different people share names, as they do in a city hospital.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from pypinyin import lazy_pinyin

from medlake.errors import SchemaError
from medlake.mpi.identity import resident_id_check_digit

_VOCAB_FILE = Path(__file__).with_name("noisy_vocab.json")
_VOCAB_KEYS = {
    "_comment",
    "surnames",
    "given_name_chars",
    "homophone_groups",
    "provinces",
    "districts",
    "streets",
    "area_codes",
}


@dataclass(frozen=True)
class _Vocab:
    surnames: tuple[str, ...]
    weights: tuple[int, ...]
    given: str
    homophones: dict[str, list[str]]
    provinces: tuple[str, ...]
    districts: tuple[str, ...]
    streets: tuple[str, ...]
    area_codes: tuple[str, ...]


@lru_cache(maxsize=1)
def _vocab() -> _Vocab:
    """``noisy_vocab.json``, parsed strictly (an unknown or missing key is an error)."""
    data = json.loads(_VOCAB_FILE.read_text(encoding="utf-8"))
    if set(data) != _VOCAB_KEYS:
        raise SchemaError(f"{_VOCAB_FILE.name}: keys {sorted(set(data) ^ _VOCAB_KEYS)} unexpected or missing")
    homophones: dict[str, list[str]] = {}
    for group in data["homophone_groups"]:
        for ch in group:
            homophones[ch] = [c for c in group if c != ch]
    return _Vocab(
        surnames=tuple(data["surnames"]),
        weights=tuple(int(w) for w in data["surnames"].values()),
        given=str(data["given_name_chars"]),
        homophones=homophones,
        provinces=tuple(data["provinces"]),
        districts=tuple(data["districts"]),
        streets=tuple(data["streets"]),
        area_codes=tuple(data["area_codes"]),
    )


@dataclass(frozen=True)
class NoiseRates:
    """Probabilities of each kind of identity noise on a non-HIS record."""

    homophone: float = 0.10
    swap_day_month: float = 0.05
    phone_typo: float = 0.08
    phone_missing: float = 0.15
    resident_id_missing_lis: float = 0.5
    address_missing: float = 0.3
    pacs_pinyin_name: float = 0.5


#: the probability that a person has records in each non-HIS system
SYSTEM_SHARE = {"LIS": 0.7, "PACS": 0.35, "EMR": 0.6, "PARTNER": 0.08}


def resident_id(area: str, birth: date, seq: int) -> str:
    body = f"{area}{birth:%Y%m%d}{seq:03d}"
    return body + resident_id_check_digit(body)


class _Person:
    __slots__ = ("key", "name", "sex", "birth", "rid", "phone", "address")

    def __init__(
        self, key: str, name: str, sex: str, birth: date, rid: str, phone: str, address: str
    ) -> None:
        self.key, self.name, self.sex, self.birth = key, name, sex, birth
        self.rid, self.phone, self.address = rid, phone, address


def _draw_person(rng: random.Random, key: str, v: _Vocab) -> _Person:
    surname = rng.choices(v.surnames, weights=v.weights)[0]
    given = "".join(rng.choice(v.given) for _ in range(rng.choice((1, 1, 2))))
    sex = rng.choice("MF")
    birth = date(1935, 1, 1) + timedelta(days=rng.randrange(0, 365 * 85))
    seq = rng.randrange(0, 500) * 2 + (1 if sex == "M" else 0)
    rid = resident_id(rng.choice(v.area_codes), birth, seq)
    phone = "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))
    address = (
        f"{rng.choice(v.provinces)}{rng.choice(v.districts)}{rng.choice(v.streets)}{rng.randrange(1, 400)}号"
    )
    return _Person(key, surname + given, sex, birth, rid, phone, address)


def _noisy_name(rng: random.Random, name: str, homophones: dict[str, list[str]], rate: float) -> str:
    if rng.random() >= rate:
        return name
    positions = [i for i, ch in enumerate(name) if homophones.get(ch)]
    if not positions:
        return name
    i = rng.choice(positions)
    return name[:i] + rng.choice(homophones[name[i]]) + name[i + 1 :]


def _swap_day_month(birth: date) -> date:
    if birth.day <= 12 and birth.day != birth.month:
        return birth.replace(month=birth.day, day=birth.month)
    return birth


def _phone_typo(rng: random.Random, phone: str) -> str:
    i = rng.randrange(3, len(phone))
    digit = rng.choice([d for d in "0123456789" if d != phone[i]])
    return phone[:i] + digit + phone[i + 1 :]


def _record(
    rng: random.Random,
    p: _Person,
    system: str,
    local_id: str,
    rates: NoiseRates,
    v: _Vocab,
) -> dict[str, Any]:
    name, birth, rid, phone, address = p.name, p.birth, p.rid, p.phone, p.address
    if system != "HIS":
        name = _noisy_name(rng, name, v.homophones, rates.homophone)
        if rng.random() < rates.swap_day_month:
            birth = _swap_day_month(birth)
        if rng.random() < rates.phone_missing:
            phone = ""
        elif rng.random() < rates.phone_typo:
            phone = _phone_typo(rng, phone)
        if rng.random() < rates.address_missing:
            address = ""
        else:
            address = address[3:] if address.startswith(tuple(x[:3] for x in v.provinces)) else address
    if system == "PACS":
        rid, address = "", ""
        if rng.random() < rates.pacs_pinyin_name:
            syllables = lazy_pinyin(name)
            name = f"{syllables[0].upper()}^{''.join(syllables[1:]).upper()}"
    elif system == "LIS" and rng.random() < rates.resident_id_missing_lis:
        rid = ""
    sex = p.sex if system != "PACS" or rng.random() > 0.02 else "U"
    return {
        "src_system": system,
        "src_person_id": local_id,
        "name": name,
        "sex": sex,
        "birth_date": birth,
        "resident_id": rid,
        "phone": phone,
        "address": address,
        "src_file": f"noisy-{system}",
        "src_record": local_id,
    }


def noisy_population(
    n: int, seed: int = 1, *, rates: NoiseRates | None = None, shares: dict[str, float] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """``n`` people → (source_person rows, truth rows ``person_key, system, local_id``)."""
    rng = random.Random(seed)
    rates = rates or NoiseRates()
    shares = shares if shares is not None else SYSTEM_SHARE
    vocab = _vocab()
    prefixes = {"HIS": "H", "LIS": "L", "PACS": "P", "EMR": "E", "PARTNER": "F"}
    counters = dict.fromkeys(prefixes, 0)
    rows: list[dict[str, Any]] = []
    truth: list[dict[str, str]] = []
    for k in range(n):
        person = _draw_person(rng, f"K{k:08d}", vocab)
        systems = ["HIS"] + [s for s, share in shares.items() if rng.random() < share]
        for system in systems:
            counters[system] += 1
            local_id = f"{prefixes[system]}{counters[system] * 7919 % 100_000_000:08d}"
            rows.append(_record(rng, person, system, local_id, rates, vocab))
            truth.append({"person_key": person.key, "system": system, "local_id": local_id})
    return rows, truth
