"""Character features for the CRF: n-gram windows, character classes and dictionary-hit tags.

Dictionary tags come from typed matchers (PyCMeKG/ICD/built-in; the training gazetteer, built
out-of-fold while training) and an untyped word list (THUOCL) that marks likely word boundaries.
Each position gets ``<name>:<type>:<B|I|E|S>`` for the longest hit of each type covering it.
"""

from __future__ import annotations

from collections.abc import Sequence

from medlake.nlp.matcher import DictMatcher
from medlake.nlp.textnorm import char_class, normalize
from medlake.nlp.types import LABEL_CODES

_PAD = "#"


def _tag(pos: int, start: int, end: int) -> str:
    if end - start == 1:
        return "S"
    if pos == start:
        return "B"
    if pos == end - 1:
        return "E"
    return "I"


def dict_tags(norm: str, matcher: DictMatcher, name: str, *, typed: bool = True) -> list[list[str]]:
    """Per position, the tags of the longest hit of each type covering it."""
    best: list[dict[str, tuple[int, int, int]]] = [{} for _ in norm]
    for start, end, _etype, _src, _code, types in matcher.raw_hits(norm):
        length = end - start
        if length < 2:
            continue
        keys = [LABEL_CODES.get(t, t) for t in types[:2]] if typed else ["W"]
        for pos in range(start, end):
            slot = best[pos]
            for key in keys:
                cur = slot.get(key)
                if cur is None or cur[0] < length:
                    slot[key] = (length, start, end)
    out: list[list[str]] = []
    for pos, slot in enumerate(best):
        out.append([f"{name}:{k}:{_tag(pos, s, e)}" for k, (_, s, e) in slot.items()])
    return out


def char_features(
    text: str,
    matchers: Sequence[tuple[str, DictMatcher, bool]],
) -> list[list[str]]:
    """One feature list per character of ``text``."""
    norm = normalize(text)
    n = len(norm)
    chars = [_PAD, _PAD, _PAD] + [("<D>" if c.isdigit() else c) for c in norm] + [_PAD, _PAD, _PAD]
    classes = ["B", "B"] + [char_class(c) for c in norm] + ["E", "E"]
    extra = [dict_tags(norm, m, name, typed=typed) for name, m, typed in matchers]
    feats: list[list[str]] = []
    for i in range(n):
        j = i + 3
        cm2, cm1, c0, c1, c2 = chars[j - 2], chars[j - 1], chars[j], chars[j + 1], chars[j + 2]
        k = i + 2
        f = [
            "b",
            "c0=" + c0,
            "c-1=" + cm1,
            "c1=" + c1,
            "c-2=" + cm2,
            "c2=" + c2,
            "c-3=" + chars[j - 3],
            "c3=" + chars[j + 3],
            "b-1=" + cm1 + c0,
            "b0=" + c0 + c1,
            "b-2=" + cm2 + cm1,
            "b1=" + c1 + c2,
            "bs=" + cm1 + c1,
            "t-1=" + cm2 + cm1 + c0,
            "t0=" + cm1 + c0 + c1,
            "t1=" + c0 + c1 + c2,
            "k=" + classes[k - 1] + classes[k] + classes[k + 1],
            "k0=" + classes[k],
        ]
        for tags in extra:
            f.extend(tags[i])
        feats.append(f)
    return feats
