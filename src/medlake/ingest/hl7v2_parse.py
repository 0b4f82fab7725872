"""A small, forgiving HL7 v2 (ER7) parser: batches, separators, repetitions and escape sequences.

Real feeds are messier than the standard: UTF-8 byte-order marks, ``\\n`` or ``\\r\\n`` instead of
``\\r`` between segments, FHS/BHS batch envelopes, OBX before OBR, unknown Z-segments. This parser
splits a file into messages at each ``MSH`` segment, keeps every segment's fields raw and
unescapes only at the leaf (``Segment.get``), so ``\\F\\`` inside a value never splits a field.
A message that cannot be parsed is returned as a ``BrokenMessage`` with its reason; the others
still parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

BOM = "\ufeff"
_SEGMENT_NAME = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_SEGMENT_SPLIT = re.compile(r"\r\n|\r|\n")
_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d+)?(?:[+-]\d{2,4})?$")
ENVELOPE = frozenset({"FHS", "BHS", "BTS", "FTS"})


@dataclass(frozen=True)
class Separators:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"


@dataclass
class Segment:
    name: str
    fields: list[str]
    seps: Separators

    def raw(self, index: int) -> str:
        """Field ``index`` as it appears in the message (MSH-1 is the field separator itself)."""
        return self.fields[index] if 0 <= index < len(self.fields) else ""

    def repetitions(self, index: int) -> list[str]:
        value = self.raw(index)
        return value.split(self.seps.repetition) if value else []

    def get(self, index: int, component: int = 1, sub: int = 1, rep: int = 0) -> str:
        """Unescaped value of field ``index``, repetition ``rep``, component and sub-component (1-based)."""
        fields = self.fields
        if not 0 <= index < len(fields):
            return ""
        value = fields[index]
        if not value:
            return ""
        seps = self.seps
        if seps.component not in value and seps.repetition not in value and seps.subcomponent not in value:
            # the common case: a plain value (no repetitions, components or sub-components)
            if rep or component != 1 or sub != 1:
                return ""
        else:
            for sep, n in ((seps.repetition, rep + 1), (seps.component, component), (seps.subcomponent, sub)):
                if sep in value:
                    pieces = value.split(sep)
                    if n > len(pieces):
                        return ""
                    value = pieces[n - 1]
                elif n != 1:
                    return ""
        if seps.escape and seps.escape in value:
            value = unescape(value, seps)
        return value.strip()


def leaf(value: str, seps: Separators, component: int = 1, sub: int = 1) -> str:
    comps = value.split(seps.component)
    if component > len(comps):
        return ""
    subs = comps[component - 1].split(seps.subcomponent)
    if sub > len(subs):
        return ""
    return unescape(subs[sub - 1], seps).strip()


def components(value: str, seps: Separators) -> list[str]:
    return [unescape(c, seps) for c in value.split(seps.component)]


_HIGHLIGHT = frozenset({"H", "N"})


def unescape(text: str, seps: Separators) -> str:
    """Resolve HL7 escape sequences: \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\X..\\ \\.br\\ (highlighting dropped)."""
    esc = seps.escape
    if not esc or esc not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch != esc:
            out.append(ch)
            i += 1
            continue
        end = text.find(esc, i + 1)
        if end < 0:  # a lone escape character: keep it literally
            out.append(text[i:])
            break
        code = text[i + 1 : end]
        out.append(_resolve(code, seps, text[i : end + 1]))
        i = end + 1
    return "".join(out)


def _resolve(code: str, seps: Separators, literal: str) -> str:
    simple = {
        "F": seps.field,
        "S": seps.component,
        "T": seps.subcomponent,
        "R": seps.repetition,
        "E": seps.escape,
        ".br": "\n",
    }
    if code in simple:
        return simple[code]
    if code in _HIGHLIGHT or code[:1] in {"C", "M"} and len(code) > 1 and _is_hex(code[1:]):
        return ""
    if code[:1] == "X" and len(code) > 1 and len(code) % 2 == 1 and _is_hex(code[1:]):
        raw = bytes.fromhex(code[1:])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    return literal


def _is_hex(s: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in s)


@dataclass
class Message:
    segments: list[Segment]
    index: int  # 0-based position of the message in its file
    raw: str = ""

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    @property
    def seps(self) -> Separators:
        return self.msh.seps

    @property
    def control_id(self) -> str:
        return self.msh.get(10) or f"#{self.index + 1}"

    @property
    def message_type(self) -> str:
        """``ORU^R01`` style (the message structure component is left out)."""
        code, event = self.msh.get(9, 1), self.msh.get(9, 2)
        return f"{code}^{event}" if event else code

    @property
    def sending_app(self) -> str:
        return self.msh.get(3)

    def first(self, name: str) -> Segment | None:
        return next((s for s in self.segments if s.name == name), None)

    def all(self, name: str) -> list[Segment]:
        return [s for s in self.segments if s.name == name]


@dataclass
class BrokenMessage:
    index: int
    reason: str
    raw: str
    control_id: str = ""


@dataclass
class ParsedFile:
    messages: list[Message | BrokenMessage] = field(default_factory=list)
    stray_segments: int = 0  # segments outside any message (other than batch envelopes)


def decode(data: bytes) -> str:
    """UTF-8 (BOM stripped); GB18030 for legacy Chinese feeds that are not valid UTF-8."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding).lstrip(BOM)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def parse_separators(line: str) -> Separators:
    """Separators from an MSH (or FHS/BHS) segment: ``MSH|^~\\&``."""
    if len(line) < 8:
        raise ValueError("MSH segment too short to carry its encoding characters")
    fsep = line[3]
    enc = line[4:].split(fsep, 1)[0]
    if len(enc) < 2 or fsep.isalnum():
        raise ValueError(f"invalid encoding characters {line[3:8]!r}")
    return Separators(
        field=fsep,
        component=enc[0],
        repetition=enc[1] if len(enc) > 1 else "~",
        escape=enc[2] if len(enc) > 2 else "",
        subcomponent=enc[3] if len(enc) > 3 else "&",
    )


def _segment(line: str, seps: Separators) -> Segment:
    parts = line.split(seps.field)
    name = parts[0]
    if name == "MSH":
        # MSH-1 is the field separator itself, MSH-2 the encoding characters.
        return Segment(name, [name, seps.field, *parts[1:]], seps)
    return Segment(name, parts, seps)


def split_messages(text: str) -> ParsedFile:
    """Split a file's text into messages (each starting at MSH), skipping batch envelopes."""
    out = ParsedFile()
    current: list[str] | None = None
    for line in _SEGMENT_SPLIT.split(text.lstrip(BOM)):
        line = line.strip("\x0b\x1c").rstrip()
        if not line.strip():
            continue
        name = line[:3]
        if name == "MSH":
            if current is not None:
                out.messages.append(_build(current, len(out.messages)))
            current = [line]
        elif name in ENVELOPE:
            if current is not None:
                out.messages.append(_build(current, len(out.messages)))
                current = None
        elif current is None:
            out.stray_segments += 1
        else:
            current.append(line)
    if current is not None:
        out.messages.append(_build(current, len(out.messages)))
    return out


def _build(lines: list[str], index: int) -> Message | BrokenMessage:
    raw = "\r".join(lines)
    try:
        seps = parse_separators(lines[0])
    except ValueError as exc:
        return BrokenMessage(index, str(exc), raw)
    segments: list[Segment] = []
    for line in lines:
        seg = _segment(line, seps)
        if not _SEGMENT_NAME.match(seg.name):
            control = _segment(lines[0], seps).get(10)
            return BrokenMessage(index, f"invalid segment name {seg.name[:10]!r}", raw, control)
        segments.append(seg)
    msg = Message(segments, index, raw)
    if not msg.msh.get(9, 1):
        return BrokenMessage(index, "MSH-9 message type is empty", raw, msg.msh.get(10))
    return msg


@lru_cache(maxsize=65536)
def parse_ts(value: str) -> datetime | None:
    """HL7 TS/DTM (``YYYY[MM[DD[HH[MM[SS[.S]]]]]][+-ZZZZ]``) as a naive local datetime; None if invalid."""
    m = _TS.match(value.strip())
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) if g else None for g in m.groups())
    try:
        return datetime(y or 1, mo or 1, d or 1, h or 0, mi or 0, s or 0)
    except ValueError:
        return None
