"""Free-text scrubber: Chinese personal identifiers replaced by placeholders, dates shifted or generalised.

``Scrubber.scrub(text, patient)`` finds every span with the recognisers (plus the patient's own
registry names, resident ids, phones and addresses looked up exactly), merges overlaps and
replaces each span: ``[姓名]`` ``[身份证号]`` ``[电话]`` ``[地址]`` ``[编号]``; a date becomes the
same date shifted by the patient's offset (same format) or, without an offset, its year and month.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import ahocorasick

from medlake.privacy.lexicons import load_lexicons
from medlake.privacy.recognisers import (
    AddressRecogniser,
    DateMatch,
    NameRecogniser,
    Span,
    find_dates,
    find_emails,
    find_ids,
    find_old_ages,
    find_phones,
    find_record_numbers,
    merge_spans,
)

PLACEHOLDERS = {
    "NAME": "[姓名]",
    "ID": "[身份证号]",
    "PHONE": "[电话]",
    "EMAIL": "[邮箱]",
    "ADDRESS": "[地址]",
    "MRN": "[编号]",
    "DATE": "[日期]",
    "AGE": "90以上",
}

DateMode = Literal["shift", "month", "placeholder"]


@dataclass
class PatientContext:
    """What is known about the patient a text belongs to (from the registry), and their date offset."""

    names: set[str] = field(default_factory=set)
    identifiers: set[str] = field(default_factory=set)  # resident ids, phones, record numbers
    addresses: set[str] = field(default_factory=set)
    shift_days: int | None = None


@dataclass(frozen=True)
class ScrubResult:
    text: str
    spans: list[Span]


def _exact(text: str, values: set[str], typ: str, min_len: int) -> list[Span]:
    out = []
    for v in values:
        if not v or len(v) < min_len:
            continue
        i = text.find(v)
        while i >= 0:
            out.append(Span(i, i + len(v), typ, v))
            i = text.find(v, i + 1)
    return out


class Scrubber:
    def __init__(self, *, date_mode: DateMode = "shift", cohort_names: set[str] | None = None) -> None:
        """``cohort_names``: names of every person in the export, scrubbed from every text (a patient's
        note may name another patient); only names of three or more characters, so that two-character
        names that are also words (高峰) do not eat clinical text - those are looked up per patient."""
        lex = load_lexicons()
        self.names = NameRecogniser(lex)
        self.addresses = AddressRecogniser(lex)
        self.date_mode = date_mode
        self._cohort: ahocorasick.Automaton | None = None
        long_names = {n for n in (cohort_names or set()) if n and len(n) >= 3}
        if long_names:
            self._cohort = ahocorasick.Automaton()
            for n in long_names:
                self._cohort.add_word(n, n)
            self._cohort.make_automaton()

    def find(self, text: str, patient: PatientContext | None = None) -> tuple[list[Span], list[DateMatch]]:
        """Every identifier span (merged) and the date matches, without changing the text."""
        spans: list[Span] = []
        spans += find_ids(text)
        spans += find_phones(text)
        spans += find_emails(text)
        spans += find_old_ages(text)
        spans += find_record_numbers(text)
        spans += self.addresses.find(text)
        spans += self.names.find_by_context(text)
        spans += self.names.find_by_title(text)
        if self._cohort is not None:
            spans += [Span(end - len(n) + 1, end + 1, "NAME", n) for end, n in self._cohort.iter(text)]
        if patient is not None:
            spans += self.names.find_known(text, patient.names)
            spans += _exact(text, patient.identifiers, "ID", 5)
            spans += _exact(text, patient.addresses, "ADDRESS", 4)
        dates = find_dates(text)
        # a date inside an identifier (the birth date in a resident id) belongs to the identifier
        taken = merge_spans(spans)
        free_dates = [
            d for d in dates if not any(s.start < d.span.end and d.span.start < s.end for s in taken)
        ]
        return merge_spans(spans + [d.span for d in free_dates]), free_dates

    def scrub(self, text: str | None, patient: PatientContext | None = None) -> ScrubResult:
        if not text:
            return ScrubResult(text or "", [])
        spans, dates = self.find(text, patient)
        by_start = {d.span.start: d for d in dates}
        shift = patient.shift_days if patient is not None else None
        parts: list[str] = []
        pos = 0
        for s in spans:
            parts.append(text[pos : s.start])
            dm = by_start.get(s.start)
            if s.type == "DATE" and dm is not None and dm.span.end == s.end:
                parts.append(self._date(dm, shift))
            else:
                parts.append(PLACEHOLDERS.get(s.type, "[编号]"))
            pos = s.end
        parts.append(text[pos:])
        return ScrubResult("".join(parts), spans)

    def _date(self, dm: DateMatch, shift: int | None) -> str:
        if self.date_mode == "placeholder":
            return PLACEHOLDERS["DATE"]
        if self.date_mode == "shift" and shift is not None and dm.day is not None:
            try:
                d = date(dm.year, dm.month, dm.day) + timedelta(days=shift)
            except ValueError:
                return PLACEHOLDERS["DATE"]
            if dm.style == "zh":
                return f"{d.year}年{d.month}月{d.day}日"
            if dm.style == "compact":
                return d.strftime("%Y%m%d")
            return f"{d.year:04d}{dm.sep}{d.month:02d}{dm.sep}{d.day:02d}"
        if dm.style == "zh":
            return f"{dm.year}年{dm.month}月"
        return f"{dm.year:04d}-{dm.month:02d}"
