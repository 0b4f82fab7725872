"""Who the patients are: names, sex, birth dates, resident ids, phones, addresses (one chunk at a time).

Bulk columns (pattern, sex, age, dates, name and region draws, phone digits, resident-id check
digits) are drawn with numpy for the whole chunk; the per-person objects are then assembled.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import numpy as np

from medlake.synth.model import Person
from medlake.synth.vocab import Vocab

#: The clinical patterns a patient is drawn into, with their (deliberately oversampled) shares.
PATTERNS: dict[str, float] = {
    "tapvc": 0.05,
    "burn": 0.07,
    "breast_cancer": 0.07,
    "cervical_cancer": 0.03,
    "diabetes": 0.08,
    "hypertension": 0.08,
    "ordinary": 0.62,
}
_FEMALE_ONLY = {"breast_cancer", "cervical_cancer"}

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CHARS = "10X98765432"
_PHONE_PREFIXES = np.array(
    [130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 157, 158, 159, 166, 177, 180, 181,
     182, 185, 186, 187, 188, 189, 191, 198, 199],
    dtype=np.int64,
)  # fmt: skip
_EPOCH = date(1970, 1, 1)


def check_digit(first17: str) -> str:
    """GB 11643 (ISO 7064 MOD 11-2) check character for the first 17 digits of a resident id."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS.tolist(), strict=True))
    return _CHECK_CHARS[total % 11]


def valid_resident_id(value: str) -> bool:
    return len(value) == 18 and value[:17].isdigit() and check_digit(value[:17]) == value[17]


def _age_days(rng: np.random.Generator, patterns: np.ndarray) -> np.ndarray:
    n = len(patterns)
    adult = rng.uniform(18, 90, n)
    years = np.where(patterns == "tapvc", 0.0, adult)
    years = np.where(patterns == "breast_cancer", rng.uniform(32, 76, n), years)
    years = np.where(patterns == "cervical_cancer", rng.uniform(30, 70, n), years)
    years = np.where(patterns == "diabetes", rng.uniform(35, 82, n), years)
    years = np.where(patterns == "hypertension", rng.uniform(40, 88, n), years)
    child = rng.random(n) < 0.22
    burn_age = np.where(child, rng.uniform(1, 12, n), rng.uniform(16, 80, n))
    years = np.where(patterns == "burn", burn_age, years)
    ordinary_child = rng.random(n) < 0.12
    years = np.where((patterns == "ordinary") & ordinary_child, rng.uniform(1, 17, n), years)
    days = (years * 365.25).astype(np.int64)
    infant = np.clip(np.exp(rng.normal(np.log(40.0), 0.9, n)), 2, 720).astype(np.int64)
    return np.where(patterns == "tapvc", infant, days)


def make_people(
    vocab: Vocab, seed: int, chunk: int, first_idx: int, n: int, start: date, end: date
) -> list[Person]:
    """``n`` people with indices ``first_idx..first_idx+n-1`` (deterministic for seed and chunk)."""
    rng = np.random.default_rng([seed, chunk, 1])
    names = list(PATTERNS)
    probs = np.array(list(PATTERNS.values()))
    patterns = rng.choice(np.array(names), size=n, p=probs / probs.sum())
    female = np.isin(patterns, list(_FEMALE_ONLY)) | (rng.random(n) < 0.5)
    sex = np.where(female, "2", "1")
    span = (end - start).days - 400
    index_off = rng.integers(30, span, n) + (start - _EPOCH).days
    birth_days = index_off - _age_days(rng, patterns)

    sw = np.array(vocab.surname_weights, dtype=float)
    surname_idx = rng.choice(len(sw), size=n, p=sw / sw.sum())
    given_probs = {s: np.array(w, dtype=float) / sum(w) for s, w in vocab.given_weights_by_sex.items()}
    g1 = {s: rng.choice(len(p), size=n, p=p) for s, p in given_probs.items()}
    g2 = {s: rng.choice(len(p), size=n, p=p) for s, p in given_probs.items()}
    two_chars = rng.random(n) < 0.72
    rw = np.array(vocab.region_weights, dtype=float)
    region_idx = rng.choice(len(rw), size=n, p=rw / rw.sum())
    ew = np.array(vocab.ethnicity_weights, dtype=float)
    eth_idx = rng.choice(len(ew), size=n, p=ew / ew.sum())
    phones = rng.choice(_PHONE_PREFIXES, size=n) * 100_000_000 + rng.integers(0, 100_000_000, n)
    seq = rng.integers(0, 500, n) * 2 + np.where(female, 0, 1)  # odd = male (GB 11643)
    street_idx = rng.integers(0, len(vocab.streets), n)
    house = rng.integers(1, 400, n)
    building = rng.integers(1, 30, n)
    unit = rng.integers(1, 6, n)
    room = rng.integers(1, 30, n) * 100 + rng.integers(1, 6, n)
    missing_id = rng.random(n) < 0.03
    fam_seed = rng.integers(0, 2**62, n)

    births = (np.datetime64("1970-01-01") + birth_days.astype("timedelta64[D]")).astype("datetime64[D]")
    birth_str = np.datetime_as_string(births).astype("U10")
    ymd = np.char.replace(birth_str, "-", "")
    codes = np.array([r.code for r in vocab.regions])[region_idx]
    first17 = np.char.add(np.char.add(codes, ymd), np.char.zfill(seq.astype("U3"), 3))
    digits = np.frombuffer("".join(first17.tolist()).encode("ascii"), dtype=np.uint8).reshape(n, 17) - 48
    checks = (digits.astype(np.int64) @ _ID_WEIGHTS) % 11

    people: list[Person] = []
    for i in range(n):
        idx = first_idx + i
        s = str(sex[i])
        given_chars = vocab.given_by_sex[s]
        given = given_chars[g1[s][i]]
        if two_chars[i]:
            given += given_chars[g2[s][i]]
        surname = vocab.surnames[surname_idx[i]]
        region = vocab.regions[region_idx[i]]
        rid = str(first17[i]) + _CHECK_CHARS[checks[i]]
        city = region.city
        address = (
            f"{region.province}{city}{region.district}{vocab.streets[street_idx[i]]}{house[i]}号"
            f"{building[i]}幢{unit[i]}单元{room[i]}室"
        )
        bd = date.fromisoformat(str(birth_str[i]))
        person = Person(
            idx=idx,
            person_key=f"K{idx + 1:08d}",
            his_id=f"H{idx + 1:08d}",
            name=surname + given,
            sex=s,
            birth=bd,
            resident_id="" if missing_id[i] else rid,
            true_resident_id=rid,
            phone=str(phones[i]),
            province=region.province,
            city=city,
            district=region.district,
            address=address,
            ethnicity_code=vocab.ethnicities[eth_idx[i]][0],
            ethnicity=vocab.ethnicities[eth_idx[i]][1],
            pattern=str(patterns[i]),
            index_date=_EPOCH + timedelta(days=int(index_off[i])),
        )
        person.family = _family(vocab, person, random.Random(int(fam_seed[i])))
        people.append(person)
    return people


def _given(vocab: Vocab, sex: str, rng: random.Random) -> str:
    chars = vocab.given_by_sex[sex]
    weights = vocab.given_weights_by_sex[sex]
    k = 2 if rng.random() < 0.7 else 1
    return "".join(rng.choices(chars, weights, k=k))


def _surname(vocab: Vocab, rng: random.Random) -> str:
    return rng.choices(vocab.surnames, vocab.surname_weights)[0]


def _family(vocab: Vocab, p: Person, rng: random.Random) -> list[tuple[str, str]]:
    """Relatives who may be named in the notes (parents of children, spouse or child of adults)."""
    surname = p.name[:2] if p.name.startswith("欧阳") else p.name[0]
    age = p.age_on(p.index_date)
    if age < 16:
        return [
            ("母亲", _surname(vocab, rng) + _given(vocab, "2", rng)),
            ("父亲", surname + _given(vocab, "1", rng)),
        ]
    out: list[tuple[str, str]] = []
    family_name = surname
    if age >= 25:
        spouse_sex = "2" if p.sex == "1" else "1"
        spouse = _surname(vocab, rng) + _given(vocab, spouse_sex, rng)
        out.append(("配偶", spouse))
        if p.sex == "2":  # children take the father's family name
            family_name = spouse[:2] if spouse.startswith("欧阳") else spouse[0]
    if age >= 45:
        child_sex = rng.choice("12")
        out.append(("儿子" if child_sex == "1" else "女儿", family_name + _given(vocab, child_sex, rng)))
    return out
