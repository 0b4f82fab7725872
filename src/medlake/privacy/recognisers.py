"""Recognisers of Chinese direct identifiers in free text: each returns character spans with a type.

Types follow the synthetic hospital's identifier gold: ``NAME``, ``ID`` (resident identity number,
GB 11643), ``PHONE``, ``ADDRESS``, ``MRN`` (record / registration / accession numbers), ``DATE``.
The name recogniser is driven by lexicons (surnames, context words) plus an optional per-patient
dictionary of known names; the others are patterns validated where a check exists (the GB 11643
check digit, a plausible birth date in the old 15-digit form).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from medlake.privacy.lexicons import Lexicons, load_lexicons

PHI_TYPES = ("NAME", "ID", "PHONE", "EMAIL", "ADDRESS", "MRN", "DATE", "AGE")


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    type: str
    text: str


# -- resident identity numbers (GB 11643) -----------------------------------------------------------
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# digits after a decimal point (a lab value printed with 17 decimals) are never an identifier
_ID18 = re.compile(r"(?<![0-9A-Za-z.])(\d{17}[\dXx])(?![0-9A-Za-z]|\.\d)")
_ID15 = re.compile(r"(?<![0-9A-Za-z.])(\d{15})(?![0-9A-Za-z]|\.\d)")


def id_check_digit(first17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def valid_resident_id(value: str) -> bool:
    """True for an 18-character number whose check character is right and whose birth date is real."""
    v = value.strip().upper()
    if len(v) != 18 or not v[:17].isdigit():
        return False
    return id_check_digit(v[:17]) == v[17] and _plausible_date(v[6:14])


def _plausible_date(yyyymmdd: str) -> bool:
    try:
        d = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return 1870 <= d.year <= 2100


def find_ids(text: str) -> list[Span]:
    out = []
    for m in _ID18.finditer(text):
        v = m.group(1)
        # a wrong check digit with a real birth date is still an identity number (a typo leaks too)
        if valid_resident_id(v) or _plausible_date(v[6:14]):
            out.append(Span(m.start(1), m.end(1), "ID", v))
    for m in _ID15.finditer(text):
        v = m.group(1)
        if _plausible_date("19" + v[6:12]):
            out.append(Span(m.start(1), m.end(1), "ID", v))
    return out


# -- telephone numbers ------------------------------------------------------------------------------
_MOBILE = re.compile(
    r"(?<![0-9A-Za-z.])(?:(?:\+|00)?86[- ]?)?(1[3-9]\d[- ]?\d{4}[- ]?\d{4})(?![0-9A-Za-z]|\.\d)"
)
_LANDLINE = re.compile(
    r"(?<![0-9A-Za-z])(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}[- ])\s?\d{7,8}(?:-\d{1,4})?(?![0-9])"
)
_PHONE_CONTEXT = re.compile(r"(?:电话|手机|联系方式|Tel|TEL|tel)[：:\s]*(\d{7,8})(?![0-9])")


def find_phones(text: str) -> list[Span]:
    out = [Span(m.start(), m.end(), "PHONE", m.group(0)) for m in _MOBILE.finditer(text)]
    out += [Span(m.start(), m.end(), "PHONE", m.group(0)) for m in _LANDLINE.finditer(text)]
    out += [Span(m.start(1), m.end(1), "PHONE", m.group(1)) for m in _PHONE_CONTEXT.finditer(text)]
    return out


_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
)


def find_emails(text: str) -> list[Span]:
    return [Span(m.start(), m.end(), "EMAIL", m.group(0)) for m in _EMAIL.finditer(text)]


_OLD_AGE = re.compile(r"(?<![\d.])(9\d|1[0-4]\d)(?=\s*(?:岁|周岁))")


def find_old_ages(text: str) -> list[Span]:
    """Ages of 90 and over (an identifier under HIPAA Safe Harbor): the number before 岁."""
    return [Span(m.start(1), m.end(1), "AGE", m.group(1)) for m in _OLD_AGE.finditer(text)]


# -- record, registration and accession numbers -----------------------------------------------------
_MRN_LABELS = (
    "登记号|住院号|病案号|病历号|检查号|门诊号|就诊号|影像号|病理号|标本号|检验号|申请单号|医保号|"
    "医保卡号|就诊卡号|卡号|ID号|ID|流水号|条码号|放射号|超声号"
)
_MRN_LABELLED = re.compile(
    rf"(?<![A-Za-z])(?:{_MRN_LABELS})\s*[：:]?\s*([A-Za-z]{{0,4}}[-_]?\d[\dA-Za-z\-_]{{3,}})"
)
# bare identifiers in the hospital's formats: a letter prefix and at least six digits
_MRN_BARE = re.compile(r"(?<![0-9A-Za-z])([A-Z]{1,4}\d{6,}[A-Z0-9]*)(?![0-9A-Za-z]|\.\d)")


def find_record_numbers(text: str) -> list[Span]:
    out = [Span(m.start(1), m.end(1), "MRN", m.group(1)) for m in _MRN_LABELLED.finditer(text)]
    out += [Span(m.start(1), m.end(1), "MRN", m.group(1)) for m in _MRN_BARE.finditer(text)]
    return out


# -- dates ------------------------------------------------------------------------------------------
_TIME = r"(?:\s*\d{1,2}[:：]\d{2}(?:[:：]\d{2})?|\s*\d{1,2}时(?:\d{1,2}分)?)?"
_DATE = re.compile(
    r"(?<!\d)(?:"
    r"(?P<y1>(?:19|20)\d{2})年(?P<m1>\d{1,2})月(?:(?P<d1>\d{1,2})[日号])?"
    r"|(?P<y2>(?:19|20)\d{2})[-/.](?P<m2>\d{1,2})[-/.](?P<d2>\d{1,2})"
    r"|(?P<y3>(?:19|20)\d{2})(?P<m3>0[1-9]|1[0-2])(?P<d3>0[1-9]|[12]\d|3[01])(?!\d)"
    rf"){_TIME}"
)


@dataclass(frozen=True)
class DateMatch:
    span: Span
    year: int
    month: int
    day: int | None
    style: str  # "zh" (2021年3月5日), "iso" (2021-03-05), "compact" (20210305)
    sep: str


def find_dates(text: str) -> list[DateMatch]:
    out = []
    for m in _DATE.finditer(text):
        if m.group("y1"):
            y, mo, d, style, sep = m.group("y1"), m.group("m1"), m.group("d1"), "zh", ""
        elif m.group("y2"):
            y, mo, d, style = m.group("y2"), m.group("m2"), m.group("d2"), "iso"
            sep = text[m.start("y2") + 4]
        else:
            y, mo, d, style, sep = m.group("y3"), m.group("m3"), m.group("d3"), "compact", ""
        if not 1 <= int(mo) <= 12 or (d is not None and not 1 <= int(d) <= 31):
            continue
        span = Span(m.start(), m.end(), "DATE", m.group(0))
        out.append(DateMatch(span, int(y), int(mo), int(d) if d else None, style, sep))
    return out


# -- addresses --------------------------------------------------------------------------------------
_ADDR_BODY = r"[\u4e00-\u9fa5A-Za-z0-9\-#－]"
_ADDR_UNIT = r"(?:省|市|自治区|自治州|特别行政区|地区|盟|区|县|旗|镇|乡|街道|村|社区|路|街|大道|道|巷|弄|胡同|里|号|栋|幢|座|单元|楼|层|室|组|小区|花园|公寓|大厦)"
_ADDR_TAIL = re.compile(rf"(?:{_ADDR_BODY}{{0,12}}?{_ADDR_UNIT})+(?:\d+(?:号|室|栋|幢|单元|楼|层))*")
_STREET = re.compile(
    rf"[\u4e00-\u9fa5]{{1,8}}(?:路|街|大道|巷|弄|胡同)\d+号(?:{_ADDR_BODY}{{0,6}}?(?:栋|幢|单元|楼|层|室|号))*"
)
_ADDR_CONTEXT = re.compile(r"(?:住址|地址|现住|家住|住在|户籍地|户籍|居住地|居住于|籍贯|现居)[：:\s为于在]*")


_PLACE_CONTEXT = "原籍|籍贯|生于|出生于|出生地|居住于|久居|长期居住于|来自|户籍|现住|住在|家住|迁居|定居"


class AddressRecogniser:
    """Addresses anchored on a province / city name, a context word, or a street-and-number pattern."""

    def __init__(self, lex: Lexicons) -> None:
        names = set(lex.provinces) | {r.city for r in lex.regions}
        names |= {n.removesuffix("省").removesuffix("市") for n in names if len(n) > 2}
        names |= {
            n.replace("壮族自治区", "").replace("回族自治区", "").replace("维吾尔自治区", "") for n in names
        }
        names.discard("")
        alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        self._anchor = re.compile(rf"(?:{alternation})")
        # a bare place (a city is an identifier too): the full name with its suffix anywhere
        # (原籍浙江省杭州市), the short form only after a place context (生于杭州) - short forms
        # also occur inside drug names (长春新碱, 长春西汀)
        full = {r.city for r in lex.regions if r.city.endswith("市")} | {
            p for p in lex.provinces if p[-1] in "省市区"
        }
        short = names - full
        self._full_place = re.compile(
            "(?:" + "|".join(re.escape(n) for n in sorted(full, key=len, reverse=True)) + ")+"
        )
        self._short_place = re.compile(
            rf"(?:{_PLACE_CONTEXT})[：:\s]*((?:"
            + "|".join(re.escape(n) for n in sorted(short | full, key=len, reverse=True))
            + ")+)"
        )

    def find(self, text: str) -> list[Span]:
        out: list[Span] = []
        for m in self._anchor.finditer(text):
            tail = _ADDR_TAIL.match(text, m.end())
            end = tail.end() if tail else m.end()
            # a bare place name ("来自北京") is not an address; one with a unit below the city is
            if tail and _has_street_level(text[m.start() : end]):
                out.append(Span(m.start(), end, "ADDRESS", text[m.start() : end]))
        for m in _ADDR_CONTEXT.finditer(text):
            tail = _ADDR_TAIL.match(text, m.end())
            if tail and tail.end() - m.end() >= 4:
                out.append(Span(m.end(), tail.end(), "ADDRESS", text[m.end() : tail.end()]))
        out += [Span(m.start(), m.end(), "ADDRESS", m.group(0)) for m in _STREET.finditer(text)]
        out += [Span(m.start(), m.end(), "ADDRESS", m.group(0)) for m in self._full_place.finditer(text)]
        out += [Span(m.start(1), m.end(1), "ADDRESS", m.group(1)) for m in self._short_place.finditer(text)]
        return out


_STREET_LEVEL = re.compile(r"(?:区|县|旗|镇|乡|街道|村|路|街|大道|巷|弄|胡同|号|栋|幢|单元|室|组|小区)")


def _has_street_level(s: str) -> bool:
    return bool(_STREET_LEVEL.search(s))


def is_street_level_address(s: str) -> bool:
    """True when ``s`` names something finer than a city (a district, street, number or room)."""
    return bool(re.search(r"(?:路|街|大道|巷|弄|胡同|村|号|栋|幢|单元|室)", s))


# -- names ------------------------------------------------------------------------------------------
_HAN = "\u4e00-\u9fa5"
_HAN_RE = re.compile(f"[{_HAN}]")
_NAME_END = re.compile(
    rf"(?:[^{_HAN}]|先生|女士|同志|老师|医师|医生|主任|护士|之|的|等|和|与|及|签|电话|联系|，|。|）|\)|$)"
)


_TITLES = "副主任医师|主任医师|主治医师|住院医师|进修医师|医师|医生|主任|护士长|护士|护师|教授|先生|女士"


class NameRecogniser:
    """Names after a context word (患者、之子、其母、联系人、医师 ...) that start with a known surname,
    plus exact occurrences of names known in advance (the patient's registry names, relatives)."""

    def __init__(self, lex: Lexicons) -> None:
        self.lex = lex
        ctx = "|".join(re.escape(w) for w in lex.context_words)
        # a context word inside a placeholder ("[姓名]") is not a context: "]" is not allowed after it
        self._ctx = re.compile(rf"(?<!\[)(?:{ctx})\s*[】）)]?\s*[：:]?\s*")
        surnames = sorted(lex.compound_surnames, key=len, reverse=True) + sorted(lex.surnames)
        sur = "|".join(re.escape(x) for x in surnames)
        # a name right before a title (何勇主任医师查房) or signing a line (何勇／2018-08-15)
        self._before_title = re.compile(rf"(?<![{_HAN}])((?:{sur})[{_HAN}]{{1,2}}?)(?:{_TITLES})")
        self._signature = re.compile(rf"(?m)^[ \t　]*((?:{sur})[{_HAN}]{{1,2}})[ \t　]*[／/][ \t　]*\d{{4}}")

    def _surname_at(self, text: str, i: int) -> int:
        if text[i : i + 2] in self.lex.compound_surnames:
            return 2
        if i < len(text) and text[i] in self.lex.surnames:
            return 1
        return 0

    def find_by_context(self, text: str) -> list[Span]:
        out = []
        for m in self._ctx.finditer(text):
            i = m.end()
            n = self._surname_at(text, i)
            if not n:
                continue
            best = None
            first = text[i + n : i + n + 1]
            second = text[i + n + 1 : i + n + 2]
            stop = first in self.lex.name_stopchars or (first + second) in self.lex.name_stopchars
            if first and _HAN_RE.match(first) and not stop:
                if second and _HAN_RE.match(second) and second not in self.lex.name_followers:
                    best = i + n + 2
                elif not second or second in self.lex.name_followers or _NAME_END.match(text, i + n + 1):
                    best = i + n + 1
            if best is None and text[i + n : i + n + 2] in ("某某", "某"):
                best = i + n + (2 if text[i + n : i + n + 2] == "某某" else 1)
            if best is not None:
                out.append(Span(i, best, "NAME", text[i:best]))
        return out

    def find_by_title(self, text: str) -> list[Span]:
        out = []
        for rx in (self._before_title, self._signature):
            for m in rx.finditer(text):
                cand = m.group(1)
                n = 2 if cand[:2] in self.lex.compound_surnames else 1
                if any(ch in self.lex.name_stopchars for ch in cand[n:]):
                    continue
                out.append(Span(m.start(1), m.end(1), "NAME", cand))
        return out

    @staticmethod
    def find_known(text: str, names: Iterable[str]) -> list[Span]:
        out = []
        for name in {n for n in names if n and len(n) >= 2}:
            start = text.find(name)
            while start >= 0:
                out.append(Span(start, start + len(name), "NAME", name))
                start = text.find(name, start + 1)
        return out


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Overlapping spans merged, keeping the type of the longest; sorted by position."""
    ordered = sorted(spans, key=lambda s: (s.start, -(s.end - s.start)))
    out: list[Span] = []
    for s in ordered:
        if out and s.start < out[-1].end:
            last = out[-1]
            if s.end > last.end:
                keep = last.type if (last.end - last.start) >= (s.end - s.start) else s.type
                out[-1] = Span(last.start, s.end, keep, "")
            continue
        out.append(s)
    return out


def default_recognisers() -> tuple[AddressRecogniser, NameRecogniser]:
    lex = load_lexicons()
    return AddressRecogniser(lex), NameRecogniser(lex)
