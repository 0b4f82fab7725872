"""Diagnosis coding: a mention → ICD-10 codes of a loaded code table, with a score and alternatives.

Three steps, best first: the exact name (score 1.0); a normalised name — punctuation dropped, clinical
shorthand expanded (``data/icd_aliases_zh.tsv``, 癌 → 恶性肿瘤, 转移 → 继发恶性肿瘤), 病/症 suffixes
tolerated (0.95); then fuzzy matching on character bigrams (Dice coefficient × 0.9). Where one name
has several codes the most specific (longest) code wins.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from medlake.nlp.lexicon import code_table_terms
from medlake.nlp.values import _parse_table

_PUNCT = re.compile(r"[\s,，、;；:：()（）\[\]【】\"'“”]")
_FUZZY_MIN = 0.5  # Dice needed to list a name as an alternative
_FUZZY_ACCEPT = 0.55  # score needed to pick a fuzzy match as the code
_PAREN = re.compile(r"[(（][^)）]*[)）]")
_CANCER = re.compile(r"(?:腺|鳞|鳞状细胞|小细胞|未分化|浸润性导管|印戒细胞)?癌$")
_MORPHOLOGY = re.compile(r"^M\d{4}")
_NONE = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Coding:
    code: str
    name: str
    score: float
    method: str  # exact | normalised | fuzzy
    alternatives: tuple[tuple[str, str, float], ...] = ()


def _norm(name: str) -> str:
    return _PUNCT.sub("", name).replace("的", "").upper()


def _variants(term: str, aliases: dict[str, str]) -> list[str]:
    t = _norm(_PAREN.sub("", term))
    out = [t]
    if t in aliases:
        out.append(_norm(aliases[t]))
    if t.endswith("癌"):
        out.append(_CANCER.sub("恶性肿瘤", t))
        out.append(t[:-1] + "恶性肿瘤")
    if t.endswith("转移"):
        out.append(t[:-2] + "继发恶性肿瘤")
    for suf in ("病", "症"):
        out.append(t[:-1] if t.endswith(suf) else t + suf)
    out.extend(x[1:] for x in list(out) if x[:1] in ("左", "右", "双"))
    return list(dict.fromkeys(x for x in out if x))


def _bigrams(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1)} if len(s) > 1 else {s}


class IcdCoder:
    """An index over ``(name, code)`` rows of a code table."""

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        path = resources.files("medlake.nlp") / "data" / "icd_aliases_zh.tsv"
        alias_rows = _parse_table(path.read_text("utf-8"), "icd_aliases_zh.tsv", ["alias", "name"])
        self.aliases = {_norm(a): n for a, n in alias_rows}
        self.by_name: dict[str, str] = {}
        self.names: dict[str, str] = {}
        rows = [(n, c) for n, c in rows if not _MORPHOLOGY.match(c)]
        for name, code in rows:
            key = _norm(name)
            cur = self.by_name.get(key)
            if cur is None or len(code) > len(cur):
                self.by_name[key] = code
                self.names[key] = name
        self._exact = {name: code for name, code in rows}
        # bigram -> ids of the names holding it (numpy, so candidates are counted without a Python loop)
        self._keys = list(self.by_name)
        self._key_id = {key: i for i, key in enumerate(self._keys)}
        index: dict[str, list[int]] = defaultdict(list)
        sizes = []
        for i, key in enumerate(self._keys):
            grams = _bigrams(key)
            sizes.append(len(grams))
            for bg in grams:
                index[bg].append(i)
        self._index = {bg: np.array(ids, dtype=np.int64) for bg, ids in index.items()}
        self._sizes = np.array(sizes, dtype=np.int64)
        self.code = lru_cache(maxsize=50_000)(self._code)

    @classmethod
    def from_csv(cls, path: Path) -> IcdCoder:
        return cls(code_table_terms(path))

    def __len__(self) -> int:
        return len(self.by_name)

    def _code(self, term: str, top: int = 3) -> Coding | None:
        if term in self._exact:
            key = _norm(term)
            return Coding(
                self.by_name.get(key, self._exact[term]), term, 1.0, "exact", self._fuzzy(key, top, skip=key)
            )
        for v in _variants(term, self.aliases):
            if v in self.by_name:
                return Coding(self.by_name[v], self.names[v], 0.95, "normalised", self._fuzzy(v, top, skip=v))
        alts = self._fuzzy(_norm(self.aliases.get(_norm(term), term)), top + 1)
        if not alts or alts[0][2] < _FUZZY_ACCEPT:
            return None
        best = alts[0]
        return Coding(best[0], best[1], best[2], "fuzzy", tuple(alts[1:]))

    def _fuzzy(self, key: str, top: int, skip: str | None = None) -> tuple[tuple[str, str, float], ...]:
        q = _bigrams(key)
        nq = len(q)
        lists = [p for bg in q if 0 < len(p := self._index.get(bg, _NONE)) <= 2000]
        if not lists:
            return ()
        ids, shared = np.unique(np.concatenate(lists), return_counts=True)
        keep = 2 * shared >= _FUZZY_MIN * (nq + 1)
        ids, shared = ids[keep], shared[keep]
        dice = 2 * shared / (nq + self._sizes[ids])
        keep = dice >= _FUZZY_MIN
        scored = []
        for i, d in zip(ids[keep].tolist(), dice[keep].tolist(), strict=True):
            name = self._keys[i]
            if name != skip:
                scored.append((round(d * 0.9, 3), -abs(len(name) - len(key)), name))
        scored.sort(reverse=True)
        return tuple((self.by_name[n], self.names[n], s) for s, _, n in scored[:top])
