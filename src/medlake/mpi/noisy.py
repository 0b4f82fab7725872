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

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pypinyin import lazy_pinyin

from medlake.mpi.identity import resident_id_check_digit

# surname, relative frequency (the ten most common cover ~40% of Chinese people)
_SURNAMES = [
    ("王", 72), ("李", 71), ("张", 69), ("刘", 54), ("陈", 45), ("杨", 31), ("黄", 23), ("赵", 22),
    ("吴", 20), ("周", 19), ("徐", 15), ("孙", 15), ("马", 12), ("朱", 12), ("胡", 11), ("郭", 11),
    ("何", 10), ("林", 9), ("罗", 9), ("高", 9), ("郑", 8), ("梁", 8), ("谢", 7), ("宋", 6),
    ("唐", 6), ("许", 6), ("韩", 5), ("冯", 5), ("邓", 5), ("曹", 5), ("彭", 5), ("曾", 5),
]  # fmt: skip
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文辉鹏飞宇浩晨欣佳怡婷雪梅玲峰宁"
    "斌波丹琳燕林海云龙凤俊健新春嘉颖慧"
)
# characters that sound the same as a given-name or surname character (homophone typos)
_HOMOPHONES = (
    "伟玮炜 芳方 娜纳 敏闵 静婧 丽莉俐 强蔷 磊蕾 军君钧 洋阳扬 勇咏 艳燕彦 杰洁婕 娟鹃 涛韬 明鸣铭 秀绣 霞侠 "
    "平萍苹 刚钢 英瑛 华桦 玉钰 兰蓝岚 红虹鸿 建剑健 志智 文雯 辉晖 鹏朋 飞菲 宇雨羽 浩昊皓 晨辰 欣鑫馨新 佳嘉家 "
    "怡宜仪 婷庭亭 梅玫 玲琳灵 峰锋丰枫 宁凝 斌彬 波博 林霖 海 云芸 龙隆 凤奉 俊骏 春椿 颖影 慧惠 "
    "王汪 李黎理 张章 刘柳 陈臣 杨阳 黄皇 赵召 吴伍 周舟 徐许 孙 马 朱 胡 郭 何 罗 高 郑 梁 谢 宋 唐 韩 冯 邓 曹 彭 曾"
)
_PROVINCES = ["浙江省杭州市", "江苏省南京市", "广东省广州市", "四川省成都市", "湖北省武汉市", "山东省济南市"]
_DISTRICTS = [
    "西湖区",
    "上城区",
    "拱墅区",
    "鼓楼区",
    "玄武区",
    "天河区",
    "越秀区",
    "武侯区",
    "江汉区",
    "历下区",
]
_STREETS = [
    "文三路",
    "解放路",
    "中山路",
    "人民路",
    "建设路",
    "和平路",
    "长江路",
    "新华路",
    "延安路",
    "南京路",
]
_AREA_CODES = ["330106", "330102", "320106", "440106", "510107", "420103", "370102"]


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


def _homophone_map() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for group in _HOMOPHONES.split():
        for ch in group:
            out[ch] = [c for c in group if c != ch]
    return out


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


def _draw_person(rng: random.Random, key: str) -> _Person:
    surnames, weights = zip(*_SURNAMES, strict=True)
    surname = rng.choices(surnames, weights=weights)[0]
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 1, 2))))
    sex = rng.choice("MF")
    birth = date(1935, 1, 1) + timedelta(days=rng.randrange(0, 365 * 85))
    seq = rng.randrange(0, 500) * 2 + (1 if sex == "M" else 0)
    rid = resident_id(rng.choice(_AREA_CODES), birth, seq)
    phone = "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))
    address = (
        f"{rng.choice(_PROVINCES)}{rng.choice(_DISTRICTS)}{rng.choice(_STREETS)}{rng.randrange(1, 400)}号"
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
    homophones: dict[str, list[str]],
) -> dict[str, Any]:
    name, birth, rid, phone, address = p.name, p.birth, p.rid, p.phone, p.address
    if system != "HIS":
        name = _noisy_name(rng, name, homophones, rates.homophone)
        if rng.random() < rates.swap_day_month:
            birth = _swap_day_month(birth)
        if rng.random() < rates.phone_missing:
            phone = ""
        elif rng.random() < rates.phone_typo:
            phone = _phone_typo(rng, phone)
        if rng.random() < rates.address_missing:
            address = ""
        else:
            address = address[3:] if address.startswith(tuple(x[:3] for x in _PROVINCES)) else address
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
    homophones = _homophone_map()
    prefixes = {"HIS": "H", "LIS": "L", "PACS": "P", "EMR": "E", "PARTNER": "F"}
    counters = dict.fromkeys(prefixes, 0)
    rows: list[dict[str, Any]] = []
    truth: list[dict[str, str]] = []
    for k in range(n):
        person = _draw_person(rng, f"K{k:08d}")
        systems = ["HIS"] + [s for s, share in shares.items() if rng.random() < share]
        for system in systems:
            counters[system] += 1
            local_id = f"{prefixes[system]}{counters[system] * 7919 % 100_000_000:08d}"
            rows.append(_record(rng, person, system, local_id, rates, homophones))
            truth.append({"person_key": person.key, "system": system, "local_id": local_id})
    return rows, truth
