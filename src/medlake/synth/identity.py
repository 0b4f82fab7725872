"""Identity noise across systems: each system has its own id namespace and its own small errors.

LIS, PACS and the partner hospital register the same person again: a homophone name typo (same
pinyin, different character: 张伟 → 章伟), day and month of birth swapped, a missing resident id
or a mistyped phone appear in realistic small proportions.
"""

from __future__ import annotations

import random
from datetime import date

from medlake.synth.model import Person, SystemIdentity
from medlake.synth.vocab import Vocab

_MOD = 9_999_991  # prime: x -> (a*x + b) mod _MOD is a permutation of 7-digit numbers
_MULT = {"LIS": 7_919, "PACS": 104_729, "PARTNER": 1_299_709}
_PREFIX = {"LIS": "L", "PACS": "P", "PARTNER": "PH"}

#: (homophone name, swapped birth day/month, resident id kept, phone typo) probabilities per system
NOISE: dict[str, tuple[float, float, float, float]] = {
    "LIS": (0.03, 0.015, 0.55, 0.02),
    "PACS": (0.03, 0.015, 0.0, 0.02),
    "PARTNER": (0.04, 0.02, 0.85, 0.03),
}


def local_id(system: str, idx: int, seed: int) -> str:
    """The person's id in ``system``: a seeded permutation, unrelated to the HIS number."""
    num = (_MULT[system] * idx + seed * 31 + 17) % _MOD
    return f"{_PREFIX[system]}{num:07d}"


def homophone_typo(vocab: Vocab, name: str, rng: random.Random) -> str:
    """Replace one character of ``name`` by a homophone (same pinyin), if any has one."""
    positions = [i for i, c in enumerate(name) if c in vocab.homophones]
    if not positions:
        return name
    i = rng.choice(positions)
    return name[:i] + rng.choice(vocab.homophones[name[i]]) + name[i + 1 :]


def swap_day_month(day: date) -> date:
    if day.day <= 12 and day.day != day.month:
        try:
            return date(day.year, day.day, day.month)
        except ValueError:
            return day
    return day


def phone_typo(phone: str, rng: random.Random) -> str:
    i = rng.randrange(3, len(phone))
    digit = str((int(phone[i]) + rng.randrange(1, 10)) % 10)
    return phone[:i] + digit + phone[i + 1 :]


def system_identity(
    vocab: Vocab, person: Person, system: str, seed: int, rng: random.Random
) -> SystemIdentity:
    p_name, p_dob, p_rid, p_phone = NOISE[system]
    name = homophone_typo(vocab, person.name, rng) if rng.random() < p_name else person.name
    birth = swap_day_month(person.birth) if rng.random() < p_dob else person.birth
    rid = person.true_resident_id if rng.random() < p_rid else ""
    phone = phone_typo(person.phone, rng) if rng.random() < p_phone else person.phone
    return SystemIdentity(system, local_id(system, person.idx, seed), name, person.sex, birth, rid, phone)
