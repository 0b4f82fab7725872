"""Character features for the CRF: n-gram windows, character classes and dictionary-hit tags.

Dictionary tags come from typed matchers (PyCMeKG/ICD/built-in; the training gazetteer, built
out-of-fold while training) and an untyped word list (THUOCL) that marks likely word boundaries.
Each position gets ``<name>:<type>:<B|I|E|S>`` for the longest hit of each type covering it.

The n-gram templates are data (``CHAR_NGRAMS``, ``CLASS_NGRAMS``): ``char_features`` writes them as
crfsuite attribute strings for training, ``fasttag`` reads them back into look-up tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from medlake.nlp.matcher import DictMatcher
from medlake.nlp.textnorm import char_class, normalize
from medlake.nlp.types import LABEL_CODES

PAD = "#"  # beyond the text, for character templates
DIGIT = "<D>"  # every digit character is one token
CLASS_PAD = ("B", "E")  # before / after the text, for class templates
WINDOW = 3  # the widest offset any template uses
BIAS = "b"
# template name -> offsets of the characters it joins (in this order: it is the attribute order)
CHAR_NGRAMS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("c0", (0,)),
    ("c-1", (-1,)),
    ("c1", (1,)),
    ("c-2", (-2,)),
    ("c2", (2,)),
    ("c-3", (-3,)),
    ("c3", (3,)),
    ("b-1", (-1, 0)),
    ("b0", (0, 1)),
    ("b-2", (-2, -1)),
    ("b1", (1, 2)),
    ("bs", (-1, 1)),
    ("t-1", (-2, -1, 0)),
    ("t0", (-1, 0, 1)),
    ("t1", (0, 1, 2)),
)
CLASS_NGRAMS: tuple[tuple[str, tuple[int, ...]], ...] = (("k", (-1, 0, 1)), ("k0", (0,)))
# over character clusters (``charclusters``), when the model has them
CLUSTER_NGRAMS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("q0", (0,)),
    ("q-1", (-1,)),
    ("q1", (1,)),
    ("qb-1", (-1, 0)),
    ("qb0", (0, 1)),
)
TAGS = ("B", "I", "E", "S")


def _tag(pos: int, start: int, end: int) -> str:
    if end - start == 1:
        return "S"
    if pos == start:
        return "B"
    if pos == end - 1:
        return "E"
    return "I"


def hit_keys(types: Sequence[str], typed: bool) -> list[str]:
    """The feature keys one dictionary hit sets: its first two types' codes, or ``W`` if untyped."""
    return [LABEL_CODES.get(t, t) for t in types[:2]] if typed else ["W"]


def dict_tags(norm: str, matcher: DictMatcher, name: str, *, typed: bool = True) -> list[list[str]]:
    """Per position, the tags of the longest hit of each type covering it."""
    best: list[dict[str, tuple[int, int, int]]] = [{} for _ in norm]
    for start, end, _etype, _src, _code, types in matcher.raw_hits(norm):
        length = end - start
        if length < 2:
            continue
        keys = hit_keys(types, typed)
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


def cluster_char(cluster: int | None) -> str:
    """A character cluster as one private-use character (its n-grams are plain strings); ``x``: none."""
    return "x" if cluster is None else chr(0xE000 + cluster)


def matcher_tags(norm: str, matchers: Sequence[tuple[str, DictMatcher, bool]]) -> list[list[str]]:
    """Per position of the normalised text, the dictionary-hit tags of all ``matchers``."""
    out: list[list[str]] = [[] for _ in norm]
    for name, m, typed in matchers:
        for slot, tags in zip(out, dict_tags(norm, m, name, typed=typed), strict=True):
            slot.extend(tags)
    return out


def char_features(
    text: str,
    matchers: Sequence[tuple[str, DictMatcher, bool]],
    clusters: Mapping[str, int] | None = None,
    tags: Sequence[Sequence[str]] | None = None,
) -> list[list[str]]:
    """One feature list per character of ``text`` (crfsuite attribute strings); ``tags``: the
    ``matcher_tags`` of the text when the caller has them already."""
    norm = normalize(text)
    n = len(norm)
    pad = [PAD] * WINDOW
    core = [(DIGIT if c.isdigit() else c) for c in norm]
    chars = pad + core + pad
    classes = [CLASS_PAD[0]] * WINDOW + [char_class(c) for c in norm] + [CLASS_PAD[1]] * WINDOW
    char_tpl = [(name + "=", offs) for name, offs in CHAR_NGRAMS]
    class_tpl = [(name + "=", offs) for name, offs in CLASS_NGRAMS]
    group_tpl: list[tuple[str, tuple[int, ...]]] = []
    groups: list[str] = []
    if clusters:
        groups = pad + [cluster_char(clusters.get(c)) for c in core] + pad
        group_tpl = [(name + "=", offs) for name, offs in CLUSTER_NGRAMS]
    hits = matcher_tags(norm, matchers) if tags is None else tags
    feats: list[list[str]] = []
    for i in range(n):
        j = i + WINDOW
        f = [BIAS]
        f.extend(prefix + "".join([chars[j + o] for o in offs]) for prefix, offs in char_tpl)
        f.extend(prefix + "".join([classes[j + o] for o in offs]) for prefix, offs in class_tpl)
        f.extend(prefix + "".join([groups[j + o] for o in offs]) for prefix, offs in group_tpl)
        f.extend(hits[i])
        feats.append(f)
    return feats
