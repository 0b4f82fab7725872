"""Time expressions: find them and normalise them to dates or ranges.

Absolute forms (2021年6月10日, 2021-06-10, 2021.6.10, 6月10日, 6.10 where the context says it is a
date) resolve against the document date for a missing year. Relative forms resolve against the
document date (3天前, 入院前3月余, 近1周, 昨日) or against an event dated earlier in the same note
(术后第3天, 化疗后15天, 出院后2周). ``余`` (more than) turns a point into a range one unit wide.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

from medlake.nlp.textnorm import normalize
from medlake.nlp.types import TimeExpr

_CN_DIGITS = {
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_NUM = r"(?:\d+(?:\.\d+)?|[零一二两三四五六七八九十半]+)(?:个半)?"
_UNIT = r"(?:天|日|周|星期|个月|月|年)"
_EVENT = r"(?:术|手术|化疗|放疗|入院|出院|发病|治疗|放化疗|确诊)"

_CLOCK = r"(?:\s*\d{1,2}\s*[:：]\s*\d{2}(?:\s*[:：]\s*\d{2})?|\s*\d{1,2}\s*时(?:\s*\d{1,2}\s*分)?)?"
_ABS_YMD = re.compile(
    rf"((?:19|20)\d{{2}})\s*(?:年|-|\.|/)\s*(\d{{1,2}})\s*(?:月|-|\.|/)\s*(\d{{1,2}})(?:\s*[日号])?{_CLOCK}"
)
_ABS_YM = re.compile(r"((?:19|20)\d{2})\s*(?:年|-|\.|/)\s*(\d{1,2})(?:\s*月)?(?!\d)")
_ABS_Y = re.compile(r"((?:19|20)\d{2})\s*年")
_MD_CN = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")
_MD_DOT = re.compile(r"(?<![\d.\-/])(\d{1,2})[.\-](\d{1,2})(?![\d.\-/])")
_MD_DOT_STRONG = ("于", "在", "自", "从", "至", "到")
_MD_DOT_WEAK = ("、", "~", "—", ",", ";", "。")
_MD_DOT_FOLLOW = (",", "、", "。", ";", "~", "至", "到", "—", "-", " ")
_MD_DOT_AFTER = ("日", "号", "起", "始", "行", "在", "于", "入院", "出院", "开始")
_REL_BEFORE = re.compile(rf"(?:({_EVENT})前)?({_NUM})\s*(?:余|多)?({_UNIT})(余|多)?(?:前|之前|以前)")
_REL_EVENT_BEFORE = re.compile(rf"({_EVENT})前\s*({_NUM})\s*({_UNIT})(余|多)?")
_REL_AFTER = re.compile(
    rf"(?:末次|第[一二三四五六七八九十\d]+次)?({_EVENT})(?:后\s*(第)?|(第))\s*({_NUM})\s*({_UNIT})(余|多)?"
)
_REL_FUTURE = re.compile(rf"({_NUM})\s*({_UNIT})(余|多)?后")
_RECENT = re.compile(rf"近\s*({_NUM})\s*({_UNIT})(余|多)?")
_DAY_WORDS = {
    "今日": 0,
    "今天": 0,
    "今晨": 0,
    "昨日": -1,
    "昨天": -1,
    "昨晚": -1,
    "前天": -2,
    "前日": -2,
    "明日": 1,
    "明天": 1,
}
_DAY_RE = re.compile("|".join(_DAY_WORDS))
_EVENT_MENTION = re.compile(rf"({_EVENT})")


def cn_number(s: str) -> float | None:
    """Arabic or small Chinese numerals (三, 十二, 两, 半, 4个半) as a number."""
    if s.endswith("个半"):
        base = cn_number(s[:-2])
        return None if base is None else base + 0.5
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        return float(s)
    if s == "半":
        return 0.5
    total, cur = 0, 0
    for ch in s:
        if ch in _CN_DIGITS:
            cur = _CN_DIGITS[ch]
        elif ch == "十":
            total += (cur or 1) * 10
            cur = 0
        else:
            return None
    return float(total + cur)


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def shift(d: date, n: float, unit: str) -> date:
    """``d`` moved by ``n`` units (negative = earlier); months and years keep the day of month."""
    if unit in ("天", "日"):
        return d + timedelta(days=round(n))
    if unit in ("周", "星期"):
        return d + timedelta(days=round(n * 7))
    months = n if unit in ("月", "个月") else n * 12
    whole = int(months)
    return add_months(d, whole) + timedelta(days=round((months - whole) * 30))


def _valid(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _event_key(word: str) -> str:
    return "术" if word in ("术", "手术") else word


def find_times(text: str, doc_date: date | None) -> list[TimeExpr]:
    """Every time expression of ``text``, resolved where an anchor is known (in text order)."""
    norm = normalize(text)
    found: list[TimeExpr] = []
    taken = bytearray(len(norm) + 1)

    def claim(m: re.Match[str], expr: TimeExpr) -> None:
        if any(taken[m.start() : m.end()]):
            return
        taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
        found.append(expr)

    for m in _ABS_YMD.finditer(norm):
        d = _valid(int(m[1]), int(m[2]), int(m[3]))
        if d:
            claim(m, TimeExpr(m.start(), m.end(), text[m.start() : m.end()], d, d, "absolute"))
    for m in _ABS_YM.finditer(norm):
        y, mo = int(m[1]), int(m[2])
        if 1 <= mo <= 12:
            last = calendar.monthrange(y, mo)[1]
            claim(
                m,
                TimeExpr(
                    m.start(),
                    m.end(),
                    text[m.start() : m.end()],
                    date(y, mo, 1),
                    date(y, mo, last),
                    "absolute",
                ),
            )
    for m in _ABS_Y.finditer(norm):
        y = int(m[1])
        claim(
            m,
            TimeExpr(
                m.start(), m.end(), text[m.start() : m.end()], date(y, 1, 1), date(y, 12, 31), "absolute"
            ),
        )
    for m in _MD_CN.finditer(norm):
        claim(m, _month_day(text, m, int(m[1]), int(m[2]), doc_date, _year_before(found, m.start())))
    for m in _MD_DOT.finditer(norm):
        before = norm[max(0, m.start() - 1) : m.start()]
        after = norm[m.end() : m.end() + 2]
        if _md_dot_is_date(before, after):
            end = m.end() + (1 if after[:1] in ("日", "号") else 0)
            expr = _month_day(text, m, int(m[1]), int(m[2]), doc_date, _year_before(found, m.start()))
            if expr.date_from is not None:
                expr.end, expr.text = end, text[m.start() : end]
                claim(m, expr)
    for m in _DAY_RE.finditer(norm):
        d = doc_date + timedelta(days=_DAY_WORDS[m[0]]) if doc_date else None
        claim(m, TimeExpr(m.start(), m.end(), text[m.start() : m.end()], d, d, "document" if d else "none"))

    events = _event_dates(norm, found)
    for m in _REL_AFTER.finditer(norm):
        n = cn_number(m[4])
        if n is None:
            continue
        event, unit, nth = _event_key(m[1]), m[5], bool(m[2] or m[3])
        if m[3] and event != "入院":
            continue  # "术第3天" is not a form; "入院第2天" is
        if event == "入院" and nth:
            n -= 1  # the day of admission is 入院第1天; after an operation the day itself is day 0
        anchor = _anchor_before(events, event, m.start(), None)
        raw = text[m.start() : m.end()]
        if anchor is not None:
            lo = shift(anchor, n, unit)
            hi = shift(anchor, n + 1, unit) if m[6] else lo
            claim(m, TimeExpr(m.start(), m.end(), raw, lo, hi, "event", anchor))
        elif doc_date is not None and (nth or _describes_now(norm, m.start())):
            # no dated event in the note: "今日为术后第3天" / "化疗后22天，今日返院" speak of the note's day
            claim(
                m,
                TimeExpr(m.start(), m.end(), raw, doc_date, doc_date, "document", shift(doc_date, -n, unit)),
            )
        else:
            claim(m, TimeExpr(m.start(), m.end(), raw, None, None, "none"))
    for m in _REL_EVENT_BEFORE.finditer(norm):
        n = cn_number(m[2])
        anchor = _anchor_before(events, _event_key(m[1]), len(norm), doc_date)
        if n is None:
            continue
        _claim_before(claim, m, text, anchor, n, m[3], bool(m[4]), "event" if m[1] != "入院" else "document")
    for m in _REL_BEFORE.finditer(norm):
        n = cn_number(m[2])
        if n is None:
            continue
        anchor = doc_date
        if m[1]:
            anchor = _anchor_before(events, _event_key(m[1]), len(norm), doc_date)
        _claim_before(claim, m, text, anchor, n, m[3], "余" in m[0] or "多" in m[0], "document")
    for m in _RECENT.finditer(norm):
        n = cn_number(m[1])
        if n is None:
            continue
        since = shift(doc_date, -n - (1 if m[3] else 0), m[2]) if doc_date else None
        claim(
            m,
            TimeExpr(
                m.start(),
                m.end(),
                text[m.start() : m.end()],
                since,
                doc_date,
                "document" if doc_date else "none",
            ),
        )
    for m in _REL_FUTURE.finditer(norm):
        n = cn_number(m[1])
        if n is None or (m.start() > 0 and norm[m.start() - 1] not in ",，;；。:：\n "):
            continue  # "治疗2年后" counts from an event, not from the document date
        later = shift(doc_date, n, m[2]) if doc_date else None
        claim(
            m,
            TimeExpr(
                m.start(),
                m.end(),
                text[m.start() : m.end()],
                later,
                later,
                "document" if doc_date else "none",
            ),
        )
    found.sort(key=lambda t: t.start)
    return found


def _claim_before(claim, m, text, anchor, n, unit, more, kind):  # type: ignore[no-untyped-def]
    hi = shift(anchor, -n, unit) if anchor else None
    lo = shift(anchor, -n - 1, unit) if anchor and more else hi
    claim(m, TimeExpr(m.start(), m.end(), text[m.start() : m.end()], lo, hi, kind if anchor else "none"))


def _md_dot_is_date(before: str, after: str) -> bool:
    """Whether ``6.10`` / ``5-8`` reads as a month and day here (not a decimal or a ratio)."""
    if after.startswith(_MD_DOT_AFTER):
        return True
    nxt = after[:1]
    if before in _MD_DOT_STRONG:
        return not (nxt.isascii() and nxt.isalnum()) and nxt not in ("%", "‰", "/", "*", "×")
    return before in _MD_DOT_WEAK and (nxt == "" or nxt in _MD_DOT_FOLLOW)


def _year_before(found: list[TimeExpr], pos: int) -> int | None:
    """The year of the last absolute date before ``pos`` (``2015-4-12, 5-8`` → 2015-05-08)."""
    best: tuple[int, int] | None = None
    for t in found:
        if t.anchor == "absolute" and t.end <= pos and t.date_from and (best is None or t.end > best[0]):
            best = (t.end, t.date_from.year)
    return best[1] if best else None


def _month_day(
    text: str, m: re.Match[str], month: int, day: int, doc_date: date | None, year: int | None = None
) -> TimeExpr:
    raw = text[m.start() : m.end()]
    if year is not None:
        d0 = _valid(year, month, day)
        return TimeExpr(m.start(), m.end(), raw, d0, d0, "absolute" if d0 else "none")
    if doc_date is None:
        return TimeExpr(m.start(), m.end(), raw, None, None, "none")
    d = _valid(doc_date.year, month, day)
    if d is not None and d > doc_date + timedelta(days=31):
        d = _valid(doc_date.year - 1, month, day)
    return TimeExpr(m.start(), m.end(), raw, d, d, "document" if d else "none")


def _event_dates(norm: str, times: list[TimeExpr]) -> list[tuple[int, str, date]]:
    """``(position, event, date)`` for events named after a dated expression in the same sentence."""
    out: list[tuple[int, str, date]] = []
    for t in times:
        if t.date_from is None or t.date_from != t.date_to:
            continue
        stop = len(norm)
        for i in range(t.end, min(len(norm), t.end + 40)):
            if norm[i] in "。；;\n":
                stop = i
                break
        else:
            stop = min(len(norm), t.end + 40)
        for m in _EVENT_MENTION.finditer(norm, t.end, stop):
            if norm[m.end() : m.end() + 1] in ("后", "前"):
                continue
            out.append((m.start(), _event_key(m[1]), t.date_from))
    return out


def _describes_now(norm: str, pos: int) -> bool:
    """Whether a relative expression at ``pos`` opens its clause or follows 今日/现/患者 (the present)."""
    before = norm[max(0, pos - 4) : pos]
    return (
        pos == 0
        or before[-1:] in ",，;；。:：\n 　"
        or any(w in before for w in ("今日为", "今为", "现", "患者", "目前"))
    )


def _anchor_before(
    events: list[tuple[int, str, date]], event: str, pos: int, doc_date: date | None
) -> date | None:
    best = None
    for p, name, d in events:
        if name == event and p < pos:
            best = d
    if best is None and event == "入院":
        return doc_date
    return best
