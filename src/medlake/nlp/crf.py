"""The trainable part: a character-level CRF (python-crfsuite) with dictionary features.

A model is a directory, never a pickle::

    model.crfsuite   the CRF weights
    meta.json        format version, labels, training parameters, resource fingerprints
    gazetteer.tsv    typed terms seen in training (term<TAB>type)
    words.txt        optional untyped word list (e.g. THUOCL) for word-boundary features
    terms.tsv        optional extra typed terms (e.g. ICD-10 names) used as features
    clusters.tsv     optional character clusters (char<TAB>cluster), learned from the training texts

While training, the gazetteer feature of each training document comes from the *other* folds
(out-of-fold), so the CRF learns how much to trust a term it has not seen in that very document.
Prediction goes through ``fasttag.FastTagger`` (crfsuite's labels without feature strings), then
``tidy`` fixes span edges.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pycrfsuite

from medlake.errors import NlpModelError
from medlake.nlp.charclusters import build_clusters
from medlake.nlp.corpus import Document
from medlake.nlp.fasttag import FastTagger, LabelDecoder, best_valid_path
from medlake.nlp.features import char_features, matcher_tags
from medlake.nlp.lexicon import Lexicon, builtin_terms, cmekg_terms, parse_typed_tsv, stop_terms
from medlake.nlp.matcher import DictMatcher
from medlake.nlp.neural import LABELS as NEURAL_LABELS
from medlake.nlp.neural import NeuralParams, NeuralTagger, train_neural
from medlake.nlp.textnorm import normalize
from medlake.nlp.types import CODE_LABELS, LABEL_CODES, Span

FORMAT_VERSION = 1
_SPLIT_AFTER = set("。；！？\n")
_SPLIT_RE = re.compile("[" + "".join(sorted(_SPLIT_AFTER)) + "]")


@dataclass
class TrainParams:
    c1: float = 0.05
    c2: float = 0.02
    max_iterations: int = 150
    inner_folds: int = 4
    seed: int = 13
    min_gazetteer_len: int = 2
    algorithm: str = "lbfgs"  # lbfgs (c1/c2 regularised) or ap (averaged perceptron: fast, no c1/c2)
    clusters: int = 0  # character clusters learned from the training texts (0: no cluster features)

    def crfsuite(self) -> dict[str, Any]:
        params: dict[str, Any] = {"max_iterations": self.max_iterations, "feature.possible_transitions": True}
        if self.algorithm == "lbfgs":
            params |= {"c1": self.c1, "c2": self.c2}
        elif self.algorithm != "ap":
            raise NlpModelError(f"unknown training algorithm {self.algorithm!r}", hint="Use lbfgs or ap.")
        return params


@dataclass
class Resources:
    """Feature resources shared by training and prediction (all plain data)."""

    base_terms: list[tuple[str, str]] = field(default_factory=list)
    extra_terms: list[tuple[str, str]] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    base_name: str = "builtin"  # "builtin" or "builtin+cmekg": recorded in meta.json, rebuilt on load
    clusters: dict[str, int] = field(default_factory=dict)  # character -> cluster (features.CLUSTER_NGRAMS)
    unlabeled: list[str] = field(default_factory=list)  # more texts to learn clusters from (no labels)
    _base: DictMatcher | None = None
    _words: DictMatcher | None = None

    def base_matcher(self) -> DictMatcher:
        if self._base is None:
            lex = Lexicon(stop=stop_terms())
            lex.extend(self.base_terms, "cmekg")
            lex.extend(self.extra_terms, "icd10")
            self._base = DictMatcher(lex)
        return self._base

    def word_matcher(self) -> DictMatcher:
        if self._words is None:
            lex = Lexicon()
            lex.extend(((w, "解剖部位") for w in self.words), "words")
            self._words = DictMatcher(lex)
        return self._words


def default_resources(
    *, extra_terms: list[tuple[str, str]] | None = None, words: list[str] | None = None
) -> Resources:
    base = [(t, e) for t, e, _ in builtin_terms()]
    cmekg = cmekg_terms()
    name = "builtin+cmekg" if cmekg else "builtin"
    return Resources(
        base_terms=base + cmekg, extra_terms=extra_terms or [], words=words or [], base_name=name
    )


def gazetteer(docs: Sequence[Document], min_len: int = 2) -> list[tuple[str, str]]:
    """Typed terms of annotated documents, each with its most frequent type."""
    votes: dict[str, Counter[str]] = {}
    for doc in docs:
        for s in doc.spans:
            term = doc.text[s.start : s.end]
            if len(term) >= min_len:
                votes.setdefault(term, Counter())[s.label] += 1
    return [(term, c.most_common(1)[0][0]) for term, c in votes.items()]


def _gaz_matcher(terms: list[tuple[str, str]]) -> DictMatcher:
    lex = Lexicon()
    lex.extend(terms, "gazetteer")
    return DictMatcher(lex)


def segments(text: str, spans: Sequence[Span] = ()) -> list[tuple[int, int]]:
    """Sentence-like pieces of ``text`` (never cutting through a span)."""
    if not spans:
        ends = [m.end() for m in _SPLIT_RE.finditer(text)]
        if not ends or ends[-1] < len(text):
            ends.append(len(text))
        return list(zip([0, *ends[:-1]], ends, strict=True)) if text else []
    inside = bytearray(len(text) + 1)
    for s in spans:
        inside[s.start + 1 : s.end] = b"\x01" * (s.end - s.start - 1)
    out, start = [], 0
    for i, ch in enumerate(text):
        if ch in _SPLIT_AFTER and not inside[i + 1]:
            out.append((start, i + 1))
            start = i + 1
    if start < len(text):
        out.append((start, len(text)))
    return out


def bioes(length: int, spans: Sequence[Span], offset: int = 0) -> list[str]:
    labels = ["O"] * length
    for s in spans:
        a, b = s.start - offset, s.end - offset
        if a < 0 or b > length:
            continue
        code = LABEL_CODES[s.label]
        if b - a == 1:
            labels[a] = "S-" + code
        else:
            labels[a] = "B-" + code
            for k in range(a + 1, b - 1):
                labels[k] = "I-" + code
            labels[b - 1] = "E-" + code
    return labels


def decode(labels: Sequence[str], offset: int = 0) -> list[Span]:
    """Spans from a BIOES sequence (tolerant: a dangling B/I run still yields a span)."""
    out: list[Span] = []
    start, cur = -1, ""

    def close(end: int) -> None:
        nonlocal start, cur
        if start >= 0:
            out.append(Span(offset + start, offset + end, CODE_LABELS[cur]))
        start, cur = -1, ""

    for i, lab in enumerate(labels):
        tag, _, code = lab.partition("-")
        if tag == "O":
            close(i)
        elif tag == "S":
            close(i)
            out.append(Span(offset + i, offset + i + 1, CODE_LABELS[code]))
        elif tag == "B" or (tag == "I" and (start < 0 or code != cur)):
            close(i)
            start, cur = i, code
        elif tag == "E":
            if start < 0 or code != cur:
                close(i)
                start, cur = i, code
            close(i + 1)
    close(len(labels))
    return out


_EDGE = frozenset(" \t\u3000，,。；;、")
_OPEN, _CLOSE = "（(", "）)"


def tidy(text: str, spans: Sequence[Span]) -> list[Span]:
    """Span boundary fixes: no white space or clause punctuation at either end, no enclosing
    brackets (``（远端胃切除术）`` → ``远端胃切除术``) and no unbalanced bracket at an end."""
    out = []
    for s in spans:
        a, b = s.start, s.end
        while a < b and text[a] in _EDGE:
            a += 1
        while b > a and text[b - 1] in _EDGE:
            b -= 1
        piece = text[a:b]
        enclosed = len(piece) > 2 and piece[0] in _OPEN and piece[-1] in _CLOSE
        if enclosed and not any(c in _OPEN or c in _CLOSE for c in piece[1:-1]):
            a, b = a + 1, b - 1
        piece = text[a:b]
        if piece[:1] in _OPEN and piece and not any(c in _CLOSE for c in piece):
            a += 1
        piece = text[a:b]
        if piece[-1:] in _CLOSE and piece and not any(c in _OPEN for c in piece):
            b -= 1
        if b > a:
            out.append(Span(a, b, s.label) if (a, b) != (s.start, s.end) else s)
    return out


def _matchers(res: Resources, gaz: DictMatcher) -> list[tuple[str, DictMatcher, bool]]:
    matchers = [("d", res.base_matcher(), True), ("g", gaz, True)]
    if res.words:
        matchers.append(("w", res.word_matcher(), False))
    return matchers


def _doc_features(
    text: str, res: Resources, gaz: DictMatcher, tags: list[list[str]] | None = None
) -> list[list[str]]:
    return char_features(text, _matchers(res, gaz), res.clusters, tags)


def train(
    docs: Sequence[Document],
    out_dir: Path,
    *,
    params: TrainParams | None = None,
    resources: Resources | None = None,
    progress: Callable[[str], None] | None = None,
    neural: NeuralParams | None = None,
) -> CrfModel:
    """Train a model on ``docs`` and write it to ``out_dir``; with ``neural``, also the BiLSTM-CRF
    that ``CrfModel.predict`` combines with the CRF (same dictionary features, same out-of-fold
    gazetteer)."""
    params = params or TrainParams()
    res = resources or default_resources()
    say = progress or (lambda _msg: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    if params.clusters:
        say(f"learning {params.clusters} character clusters")
        texts = [d.text for d in docs] + res.unlabeled
        res = replace(res, clusters=build_clusters(texts, k=params.clusters, seed=params.seed))
    order = list(range(len(docs)))
    random.Random(params.seed).shuffle(order)
    k = max(2, min(params.inner_folds, len(docs)))
    folds = [order[i::k] for i in range(k)]
    trainer = pycrfsuite.Trainer(algorithm=params.algorithm, verbose=False)
    trainer.set_params(params.crfsuite())
    t0 = time.monotonic()
    inputs: dict[int, tuple[str, list[list[str]]]] = {}
    for f, held in enumerate(folds):
        held_set = set(held)
        gaz = _gaz_matcher(gazetteer([docs[i] for i in order if i not in held_set], params.min_gazetteer_len))
        for i in held:
            doc = docs[i]
            norm = normalize(doc.text)
            tags = matcher_tags(norm, _matchers(res, gaz))
            if neural is not None:
                inputs[i] = (norm, tags)
            feats = _doc_features(doc.text, res, gaz, tags)
            for a, b in segments(doc.text, doc.spans):
                inner = [s for s in doc.spans if a <= s.start and s.end <= b]
                trainer.append(feats[a:b], bioes(b - a, inner, a))
        say(f"features of fold {f + 1}/{k} ready")
    say(f"training CRF on {len(docs)} documents")
    tmp = out_dir / ".model.crfsuite.tmp"
    trainer.train(str(tmp))
    tmp.replace(out_dir / "model.crfsuite")
    for stale in ("neural.json", "neural.pt"):
        (out_dir / stale).unlink(missing_ok=True)
    if neural is not None:
        say(f"training the neural tagger on {len(docs)} documents ({neural.epochs} epochs)")
        train_neural(
            docs,
            [inputs[i] for i in range(len(docs))],
            [bioes(len(d.text), d.spans) for d in docs],
            [segments(d.text, d.spans) for d in docs],
            out_dir,
            neural,
            say,
        )
    _write_terms(out_dir / "gazetteer.tsv", gazetteer(docs, params.min_gazetteer_len))
    if res.extra_terms:
        _write_terms(out_dir / "terms.tsv", res.extra_terms)
    if res.words:
        (out_dir / "words.txt").write_text("\n".join(res.words) + "\n", "utf-8")
    if res.clusters:
        lines = [f"{c}\t{k}" for c, k in sorted(res.clusters.items()) if c.strip()]
        (out_dir / "clusters.tsv").write_text("# char<TAB>cluster\n" + "\n".join(lines) + "\n", "utf-8")
    meta = {
        "format_version": FORMAT_VERSION,
        "kind": "medlake-char-crf",
        "params": params.__dict__,
        "neural": neural.__dict__ if neural is not None else None,
        "documents": len(docs),
        "base_terms": len(res.base_terms),
        "base": res.base_name,
        "train_seconds": round(time.monotonic() - t0, 1),
        "labels": sorted(LABEL_CODES),
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), "utf-8")
    return CrfModel.load(out_dir, resources=res)


def _write_terms(path: Path, terms: list[tuple[str, str]]) -> None:
    lines = [f"{t}\t{e}" for t, e in sorted(set(terms)) if "\t" not in t and "\n" not in t]
    path.write_text("# term<TAB>type\n" + "\n".join(lines) + "\n", "utf-8")


def _read_clusters(path: Path) -> dict[str, int]:
    out = {}
    for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line or line.startswith("# "):
            continue
        char, _, cluster = line.partition("\t")
        if not char or not cluster.isdigit():
            raise NlpModelError(f"{path}:{n}: expected char<TAB>cluster")
        out[char] = int(cluster)
    return out


def _read_terms(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [(t, e) for t, e, _ in parse_typed_tsv(path.read_text("utf-8"), str(path))]


class CrfModel:
    """A loaded model directory; ``predict(text)`` gives typed spans.

    Prediction uses ``fasttag.FastTagger`` (the same labels as crfsuite's tagger, without feature
    strings); ``predict_crfsuite`` keeps the reference path through ``pycrfsuite.Tagger``.
    """

    def __init__(self, directory: Path, tagger: pycrfsuite.Tagger, res: Resources, gaz: DictMatcher) -> None:
        self.directory = directory
        self._tagger = tagger
        self._res = res
        self._gaz = gaz
        self._fast = FastTagger(directory / "model.crfsuite", _matchers(res, gaz), res.clusters)
        self._neural = NeuralTagger(directory) if (directory / "neural.json").exists() else None
        if self._neural is not None:
            # the CRF's marginals in the neural model's label order, and which label paths are valid
            known = {lab: k for k, lab in enumerate(self._fast.labels)}
            # a label the CRF never saw in training has probability 0 there
            self._crf_order = np.array([known.get(lab, len(known)) for lab in NEURAL_LABELS], dtype=np.int64)
            self._valid = _valid_transitions(NEURAL_LABELS)
            self._neural_spans = LabelDecoder(NEURAL_LABELS)

    @property
    def combined(self) -> bool:
        """True when predictions average the CRF and the neural tagger."""
        return self._neural is not None

    @classmethod
    def load(cls, directory: Path, *, resources: Resources | None = None) -> CrfModel:
        meta_path = directory / "meta.json"
        model_path = directory / "model.crfsuite"
        if not meta_path.exists() or not model_path.exists():
            raise NlpModelError(f"{directory} is not a medlake NLP model (meta.json/model.crfsuite missing)")
        meta = json.loads(meta_path.read_text("utf-8"))
        if meta.get("format_version") != FORMAT_VERSION or meta.get("kind") != "medlake-char-crf":
            raise NlpModelError(f"{directory}: unsupported model format {meta.get('format_version')}")
        words_path = directory / "words.txt"
        words = words_path.read_text("utf-8").split() if words_path.exists() else []
        extra = _read_terms(directory / "terms.tsv")
        if resources is not None:
            res = resources
        elif meta.get("base") == "builtin":
            res = Resources(
                base_terms=[(t, e) for t, e, _ in builtin_terms()], extra_terms=extra, words=words
            )
        else:
            res = default_resources(extra_terms=extra, words=words)
        clusters_path = directory / "clusters.tsv"
        if clusters_path.exists() and not res.clusters:
            res = replace(res, clusters=_read_clusters(clusters_path))
        tagger = pycrfsuite.Tagger()
        tagger.open(str(model_path))
        return cls(directory, tagger, res, _gaz_matcher(_read_terms(directory / "gazetteer.tsv")))

    def predict(self, text: str) -> list[Span]:
        if self._neural is None:
            return self.predict_crf(text)
        if not text:
            return []
        norm, pieces, starts, ids = self._prepare(text)
        crf = np.hstack([self._fast.marginals(ids, starts), np.zeros((len(norm), 1))])[:, self._crf_order]
        net = self._neural.marginals(norm, matcher_tags(norm, _matchers(self._res, self._gaz)), pieces)
        w = self._neural.params.weight
        logp = np.log(w * crf + (1.0 - w) * net + 1e-12)
        allowed, first, final = self._valid
        labels = best_valid_path(logp, starts, allowed, first, final)
        return tidy(text, self._neural_spans(labels, starts))

    def predict_crf(self, text: str) -> list[Span]:
        """The CRF part alone (fast path), also for a combined model."""
        if not text:
            return []
        _, _, starts, ids = self._prepare(text)
        return tidy(text, self._fast.spans(ids, starts))

    def _prepare(self, text: str) -> tuple[str, list[tuple[int, int]], np.ndarray, np.ndarray]:  # type: ignore[type-arg]
        """Normalised text, segments (never empty for a non-empty text), their starts, attribute ids."""
        norm = normalize(text)
        pieces = segments(text)
        starts = np.array([a for a, _ in pieces], dtype=np.int64)
        return norm, pieces, starts, self._fast.attribute_ids(norm)

    def predict_crfsuite(self, text: str) -> list[Span]:
        """The same spans through crfsuite's own tagger and feature strings (reference, slower)."""
        if not text:
            return []
        feats = _doc_features(text, self._res, self._gaz)
        out: list[Span] = []
        for a, b in segments(text):
            out.extend(decode(self._tagger.tag(feats[a:b]), a))
        return tidy(text, out)


def _valid_transitions(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    """BIOES validity: which label may follow which, which may start and which may end a segment."""
    n = len(labels)
    allowed = np.zeros((n, n), dtype=np.bool_)
    first = np.zeros(n, dtype=np.bool_)
    final = np.zeros(n, dtype=np.bool_)
    for i, a in enumerate(labels):
        tag_a, _, code_a = a.partition("-")
        first[i] = tag_a in ("O", "B", "S")
        final[i] = tag_a in ("O", "E", "S")
        for j, b in enumerate(labels):
            tag_b, _, code_b = b.partition("-")
            if tag_a in ("O", "E", "S"):
                allowed[i, j] = tag_b in ("O", "B", "S")
            else:
                allowed[i, j] = tag_b in ("I", "E") and code_a == code_b
    return allowed, first, final
