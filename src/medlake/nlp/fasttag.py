"""Fast tagging with a trained crfsuite model: no feature strings at prediction time.

Training writes crfsuite attribute strings (``features.char_features``). For prediction this module
reads the model file's exact weights once and turns every template of ``features`` into a hash
table of integer keys (character code points packed 21 bits each) → attribute id, and every
dictionary tag into a (key, tag) → attribute id table, so the attributes of a whole note are found
by compiled look-ups; the state sums, the Viterbi and the decoding to spans run compiled (numba).
Same arithmetic, same order and same tie-breaking as crfsuite's tagger, hence the same labels
(``tests/nlp/test_fasttag.py`` checks it label by label).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import numba
import numpy as np
import numpy.typing as npt

from medlake.errors import NlpModelError
from medlake.nlp.features import (
    BIAS,
    CHAR_NGRAMS,
    CLASS_NGRAMS,
    CLASS_PAD,
    CLUSTER_NGRAMS,
    DIGIT,
    PAD,
    TAGS,
    WINDOW,
    cluster_char,
    hit_keys,
)
from medlake.nlp.inttable import new_table, table_get
from medlake.nlp.matcher import DictMatcher
from medlake.nlp.textnorm import char_class
from medlake.nlp.types import CODE_LABELS, Span

IntArray = npt.NDArray[np.int64]
TAG_KINDS = ("O", *("B", "I", "E", "S"))
_DIGIT_CODE = 0x110000  # one past the last code point: the digit token
_BITS = 21
_HEADER = struct.Struct("<4sI4sIIIIIIIII")  # crfsuite crf1dm header
_FEATURE = np.dtype([("type", "<u4"), ("src", "<u4"), ("dst", "<u4"), ("weight", "<f8")])


@cache
def _bmp_tables() -> tuple[IntArray, IntArray]:
    """Character token and class code of every BMP code point (the rest is computed on the fly)."""
    tokens = np.arange(0x10000, dtype=np.int64)
    classes = np.zeros(0x10000, dtype=np.int64)
    for cp in range(0x10000):
        ch = chr(cp)
        if ch.isdigit():
            tokens[cp] = _DIGIT_CODE
        classes[cp] = ord(char_class(ch))
    return tokens, classes


def token_codes(norm: str) -> tuple[IntArray, IntArray]:
    """Character-token and class codes of a normalised text, padded by ``WINDOW`` on each side.

    A character token is the code point, or ``0x110000`` for any digit (``features.DIGIT``)."""
    tokens, classes = _bmp_tables()
    cps = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    if len(cps) and cps.max() >= 0x10000:
        tok = np.array([_DIGIT_CODE if c.isdigit() else ord(c) for c in norm], dtype=np.int64)
        cls = np.array([ord(char_class(c)) for c in norm], dtype=np.int64)
    else:
        tok, cls = tokens[cps], classes[cps]
    pad = np.full(WINDOW, ord(PAD), dtype=np.int64)
    left, right = np.full(WINDOW, ord(CLASS_PAD[0])), np.full(WINDOW, ord(CLASS_PAD[1]))
    return np.concatenate([pad, tok, pad]), np.concatenate([left, cls, right])


def _split_tokens(value: str, n: int) -> list[int] | None:
    """The ``n`` character-token codes an attribute value was joined from (``<D>`` is one token)."""
    if n == 0:
        return [] if not value else None
    if not value:
        return None
    if value.startswith(DIGIT):
        rest = _split_tokens(value[len(DIGIT) :], n - 1)
        if rest is not None:
            return [_DIGIT_CODE, *rest]
    rest = _split_tokens(value[1:], n - 1)
    return None if rest is None else [ord(value[0]), *rest]


def _pack(codes: Sequence[int]) -> int:
    key = 0
    for c in codes:
        key = (key << _BITS) | c
    return key


def _read_header(data: bytes, path: Path) -> dict[str, int]:
    """Offsets of a crfsuite CRF1d model file's chunks (features, label and attribute names)."""
    if len(data) < _HEADER.size:
        raise NlpModelError(f"{path}: not a crfsuite model")
    magic, _size, kind, _ver, _n_feat, n_lab, n_attr, off_feat, off_lab, off_attr, *_ = _HEADER.unpack_from(
        data
    )
    if magic != b"lCRF" or kind != b"FOMC":
        raise NlpModelError(f"{path}: not a crfsuite CRF1d model")
    return {"labels": off_lab, "attrs": off_attr, "features": off_feat, "n_labels": n_lab, "n_attrs": n_attr}


def _read_names(data: bytes, offset: int, path: Path) -> list[str]:
    """The strings of a CQDB chunk (crfsuite's string ↔ id dictionary), by id."""
    chunk, _size, _flag, _order, count, bwd = struct.unpack_from("<4sIIIII", data, offset)
    if chunk != b"CQDB":
        raise NlpModelError(f"{path}: damaged name table")
    names = []
    for i, rec in enumerate(struct.unpack_from(f"<{count}I", data, offset + bwd)):
        rid, ksize = struct.unpack_from("<iI", data, offset + rec)
        if rid != i:
            raise NlpModelError(f"{path}: damaged name table")
        start = offset + rec + 8
        names.append(data[start : start + ksize - 1].decode("utf-8"))
    return names


def _read_weights(data: bytes, header: dict[str, int], path: Path) -> npt.NDArray[np.void]:
    """The feature records (type, src, dst, weight) of a crfsuite model file, weights exact."""
    off = header["features"]
    chunk, _csize, count = struct.unpack_from("<4sII", data, off)
    if chunk != b"FEAT" or off + 12 + count * _FEATURE.itemsize > len(data):
        raise NlpModelError(f"{path}: damaged feature table")
    return np.frombuffer(data, dtype=_FEATURE, count=count, offset=off + 12)


class FastTagger:
    """Look-up tables of one model file: ``attribute_ids(norm)`` then ``spans(ids, segment starts)``."""

    def __init__(
        self,
        model_path: Path,
        matchers: Sequence[tuple[str, DictMatcher, bool]],
        clusters: Mapping[str, int] | None = None,
    ) -> None:
        data = model_path.read_bytes()
        header = _read_header(data, model_path)
        self.labels = _read_names(data, header["labels"], model_path)
        attributes = _read_names(data, header["attrs"], model_path)
        if len(self.labels) != header["n_labels"] or len(attributes) != header["n_attrs"]:
            raise NlpModelError(f"{model_path}: damaged name tables")
        self._decode = LabelDecoder(self.labels)
        feats = _read_weights(data, header, model_path)
        n_attr = len(attributes)
        state = feats[feats["type"] == 0]
        order = np.argsort(state["src"], kind="stable")
        state = state[order]
        self._ptr = np.searchsorted(state["src"], np.arange(n_attr + 1)).astype(np.int64)
        self._lab = state["dst"].astype(np.int64)
        self._wt = state["weight"].astype(np.float64)
        trans = feats[feats["type"] == 1]
        self._trans = np.zeros((len(self.labels), len(self.labels)), dtype=np.float64)
        self._trans[trans["src"], trans["dst"]] = trans["weight"]
        self._bias = -1
        self._templates = (*CHAR_NGRAMS, *CLASS_NGRAMS, *(CLUSTER_NGRAMS if clusters else ()))
        self._clusters = dict(clusters or {})
        self._cluster_codes = _cluster_table(self._clusters)
        grams: dict[str, dict[int, int]] = {name: {} for name, _ in self._templates}
        sizes = {name: len(offs) for name, offs in self._templates}
        stream = {
            name: s for s, tpl in enumerate((CHAR_NGRAMS, CLASS_NGRAMS, CLUSTER_NGRAMS)) for name, _ in tpl
        }
        dict_attrs: dict[str, dict[tuple[str, str], int]] = {name: {} for name, _, _ in matchers}
        for aid, attr in enumerate(attributes):
            if attr == BIAS:
                self._bias = aid
                continue
            name, eq, value = attr.partition("=")
            if eq and name in grams:
                if stream[name]:  # one character per class / cluster
                    codes: list[int] | None = [ord(c) for c in value] if len(value) == sizes[name] else None
                else:
                    codes = _split_tokens(value, sizes[name])
                if codes is None:
                    raise NlpModelError(f"{model_path}: cannot read attribute {attr!r}")
                grams[name][_pack(codes)] = aid
                continue
            parts = attr.split(":")
            if len(parts) == 3 and parts[0] in dict_attrs and parts[2] in TAGS:
                dict_attrs[parts[0]][(parts[1], parts[2])] = aid
                continue
            raise NlpModelError(f"{model_path}: attribute {attr!r} is not one of this version's features")
        self._tpl_stream = np.array([stream[name] for name, _ in self._templates], dtype=np.int64)
        self._tpl_offs = np.zeros((len(self._templates), WINDOW), dtype=np.int64)
        for t, (_, offs) in enumerate(self._templates):
            self._tpl_offs[t, : len(offs)] = offs
        self._tpl_len = np.array([len(offs) for _, offs in self._templates], dtype=np.int64)
        self._tbl_start, self._tbl_bits, self._tbl_keys, self._tbl_vals = _gram_tables(
            [grams[name] for name, _ in self._templates]
        )
        # per matcher: its keys (type codes) and a (key, tag) -> attribute id table (-1: no weight)
        self._dicts: list[tuple[bool, dict[str, int], IntArray]] = []
        # per matcher: per term id, the (up to two) keys its hits set (-1: none the model knows)
        self._matchers: list[tuple[DictMatcher, IntArray]] = []
        for name, matcher, typed in matchers:
            seen = sorted({k for k, _ in dict_attrs[name]})
            index = {k: i for i, k in enumerate(seen)}
            tag_ids = np.full((len(seen), len(TAGS) + 1), -1, dtype=np.int64)
            for (key, tag), aid in dict_attrs[name].items():
                tag_ids[index[key], TAGS.index(tag) + 1] = aid
            self._dicts.append((typed, index, tag_ids))
            term_keys = np.full((len(matcher.values), 2), -1, dtype=np.int64)
            by_types: dict[tuple[str, ...], list[int]] = {}
            for v, (_, _, _, types, _) in enumerate(matcher.values):
                ks = by_types.get(types)
                if ks is None:
                    ks = by_types[types] = [index[k] for k in hit_keys(types, typed) if k in index]
                term_keys[v, : len(ks)] = ks
            self._matchers.append((matcher, term_keys))

    def _hit_arrays(self, norm: str, d: int) -> tuple[IntArray, IntArray, IntArray]:
        """``(start, end, key)`` per hit of matcher ``d`` and key it sets, in hit order."""
        matcher, term_keys = self._matchers[d]
        starts, ends, terms = matcher.hit_arrays(norm)
        long = ends - starts >= 2
        starts, ends, keys = starts[long], ends[long], term_keys[terms[long]]
        set_ = keys >= 0  # row-major: a hit's keys stay together, in order
        return (
            np.repeat(starts, 2)[set_.ravel()],
            np.repeat(ends, 2)[set_.ravel()],
            keys[set_],
        )

    def attribute_ids(self, norm: str) -> IntArray:
        """``(len(norm), slots)`` attribute ids in ``char_features`` order (-1: none)."""
        n = len(norm)
        tok, cls = token_codes(norm)
        grp = np.full(len(tok), ord(PAD), dtype=np.int64)
        if len(self._templates) > len(CHAR_NGRAMS) + len(CLASS_NGRAMS):
            grp[WINDOW : WINDOW + n] = _clusters_of(norm, self._cluster_codes, self._clusters)
        n_dict = sum(len(index) for _, index, _ in self._dicts)
        ids = np.empty((n, 1 + len(self._tpl_len) + n_dict), dtype=np.int64)
        ids[:, 0] = self._bias
        _gram_ids(
            np.stack([tok, cls, grp]),
            self._tpl_stream,
            self._tpl_offs,
            self._tpl_len,
            self._tbl_keys,
            self._tbl_vals,
            self._tbl_start,
            self._tbl_bits,
            ids,
        )
        col = 1 + len(self._tpl_len)
        for d, (_, index, table) in enumerate(self._dicts):
            if not index:
                continue
            starts, ends, keys_ = self._hit_arrays(norm, d)
            tags = _dict_tags(starts, ends, keys_, len(index), n)
            for k in range(len(index)):
                ids[:, col] = table[k][tags[k]]
                col += 1
        return ids

    def tag(self, ids: IntArray, seg_starts: IntArray) -> IntArray:
        """Best label id per position, each segment (starting at ``seg_starts``) tagged on its own."""
        return _viterbi(ids, seg_starts, self._ptr, self._lab, self._wt, self._trans)

    def marginals(self, ids: IntArray, seg_starts: IntArray) -> npt.NDArray[np.float64]:
        """``(n, labels)`` posterior label probabilities (labels in ``self.labels`` order)."""
        n_labels = len(self.labels)
        state = _state_scores(ids, self._ptr, self._lab, self._wt, n_labels)
        none = np.zeros(n_labels)  # crfsuite has no start or end scores
        return chain_marginals(state, seg_starts, self._trans, none, none)

    def spans(self, ids: IntArray, seg_starts: IntArray) -> list[Span]:
        """Typed spans of the best labels, decoded per segment like ``crf.decode``."""
        return self._decode(self.tag(ids, seg_starts), seg_starts)


class LabelDecoder:
    """Label ids of a fixed BIOES label list → typed spans (``crf.decode`` semantics, compiled)."""

    def __init__(self, labels: Sequence[str]) -> None:
        self._names = sorted({CODE_LABELS[lab.partition("-")[2]] for lab in labels if lab != "O"})
        self._kinds = np.array([TAG_KINDS.index(lab.partition("-")[0]) for lab in labels], dtype=np.int64)
        self._types = np.array(
            [self._names.index(CODE_LABELS[lab[2:]]) if lab != "O" else -1 for lab in labels], dtype=np.int64
        )

    def __call__(self, labels: IntArray, seg_starts: IntArray) -> list[Span]:
        """Spans of ``labels`` (ids into the label list), each segment decoded on its own."""
        starts, ends, types = decode_ids(labels, self._kinds, self._types, seg_starts)
        return [
            Span(a, b, self._names[t])
            for a, b, t in zip(starts.tolist(), ends.tolist(), types.tolist(), strict=True)
        ]


def _cluster_table(clusters: Mapping[str, int]) -> IntArray:
    """Cluster character code of every BMP code point (digits: the cluster of ``DIGIT``)."""
    none = ord(cluster_char(None))
    table = np.full(0x10000, none, dtype=np.int64)
    if not clusters:
        return table
    digit = ord(cluster_char(clusters.get(DIGIT)))
    tokens, _ = _bmp_tables()
    table[tokens == _DIGIT_CODE] = digit
    for ch, k in clusters.items():
        if len(ch) == 1 and ord(ch) < 0x10000 and not ch.isdigit():
            table[ord(ch)] = ord(cluster_char(k))
    return table


def _gram_tables(grams: list[dict[int, int]]) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """One hash table (packed n-gram → attribute id) per template, laid end to end: the tables'
    starts, sizes in bits, keys and values."""
    starts, sizes, keys, vals = [], [], [], []
    at = 0
    for table in grams:
        hk, hv, bits = new_table(
            np.array(list(table), dtype=np.int64), np.array(list(table.values()), dtype=np.int64)
        )
        starts.append(at)
        sizes.append(bits)
        keys.append(hk)
        vals.append(hv)
        at += len(hk)
    return (
        np.array(starts, dtype=np.int64),
        np.array(sizes, dtype=np.int64),
        np.concatenate(keys),
        np.concatenate(vals),
    )


@numba.njit(cache=True)
def _dict_tags(starts: IntArray, ends: IntArray, keys: IntArray, n_keys: int, n: int) -> IntArray:
    """Per key and position: 0, or 1-4 (B, I, E, S) for the first longest hit covering it."""
    best_len = np.zeros((n_keys, n), dtype=np.int64)
    best_start = np.zeros((n_keys, n), dtype=np.int64)
    best_end = np.zeros((n_keys, n), dtype=np.int64)
    for h in range(len(starts)):
        s, e, k = starts[h], ends[h], keys[h]
        for pos in range(s, e):
            if best_len[k, pos] < e - s:
                best_len[k, pos] = e - s
                best_start[k, pos] = s
                best_end[k, pos] = e
    tags = np.zeros((n_keys, n), dtype=np.int64)
    for k in range(n_keys):
        for pos in range(n):
            if best_len[k, pos] == 0:
                continue
            s, e = best_start[k, pos], best_end[k, pos]
            if e - s == 1:
                tags[k, pos] = 4
            elif pos == s:
                tags[k, pos] = 1
            elif pos == e - 1:
                tags[k, pos] = 3
            else:
                tags[k, pos] = 2
    return tags


@numba.njit(cache=True)
def _state_scores(
    ids: IntArray, ptr: IntArray, lab: IntArray, wt: npt.NDArray[np.float64], n_labels: int
) -> npt.NDArray[np.float64]:
    """Per position and label, the sum of the weights of the position's attributes (attribute order)."""
    n, slots = ids.shape
    state = np.zeros((n, n_labels))
    for i in range(n):
        for s in range(slots):
            a = ids[i, s]
            if a >= 0:
                for f in range(ptr[a], ptr[a + 1]):
                    state[i, lab[f]] += wt[f]
    return state


@numba.njit(cache=True)
def chain_marginals(
    state: npt.NDArray[np.float64],
    seg_starts: IntArray,
    trans: npt.NDArray[np.float64],
    start: npt.NDArray[np.float64],
    end: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Per position, the posterior probability of each label of a linear-chain CRF with these state
    scores, transition, start and end scores, each segment on its own. Forward-backward in
    probability space, every step rescaled to sum 1 (as crfsuite does): no logarithm in the loops."""
    n, n_labels = state.shape
    out = np.zeros((n, n_labels))
    if n == 0:
        return out
    exp_trans = np.exp(trans - trans.max())
    exp_state = np.empty((n, n_labels))
    for t in range(n):
        m = state[t].max()
        for j in range(n_labels):
            exp_state[t, j] = np.exp(state[t, j] - m)
    exp_start = np.exp(start - start.max())
    exp_end = np.exp(end - end.max())
    alpha = np.zeros((n, n_labels))
    beta = np.zeros((n, n_labels))
    n_seg = len(seg_starts)
    for g in range(n_seg):
        a = seg_starts[g]
        b = seg_starts[g + 1] if g + 1 < n_seg else n
        if b <= a:
            continue
        total = 0.0
        for j in range(n_labels):
            alpha[a, j] = exp_start[j] * exp_state[a, j]
            total += alpha[a, j]
        for j in range(n_labels):
            alpha[a, j] /= total
        for t in range(a + 1, b):
            total = 0.0
            for j in range(n_labels):
                acc = 0.0
                for i in range(n_labels):
                    acc += alpha[t - 1, i] * exp_trans[i, j]
                alpha[t, j] = acc * exp_state[t, j]
                total += alpha[t, j]
            for j in range(n_labels):
                alpha[t, j] /= total
        for i in range(n_labels):
            beta[b - 1, i] = exp_end[i]
        for t in range(b - 2, a - 1, -1):
            total = 0.0
            for i in range(n_labels):
                acc = 0.0
                for j in range(n_labels):
                    acc += exp_trans[i, j] * exp_state[t + 1, j] * beta[t + 1, j]
                beta[t, i] = acc
                total += acc
            for i in range(n_labels):
                beta[t, i] /= total
        for t in range(a, b):
            total = 0.0
            for j in range(n_labels):
                out[t, j] = alpha[t, j] * beta[t, j]
                total += out[t, j]
            for j in range(n_labels):
                out[t, j] /= total
    return out


@numba.njit(cache=True)
def best_valid_path(
    logp: npt.NDArray[np.float64],
    seg_starts: IntArray,
    allowed: npt.NDArray[np.bool_],
    first: npt.NDArray[np.bool_],
    final: npt.NDArray[np.bool_],
) -> IntArray:
    """The label path with the highest summed ``logp`` per segment among paths whose transitions are
    ``allowed`` (BIOES: no I after O, ...), which start with a ``first`` and end with a ``final`` label."""
    n, n_labels = logp.shape
    neg = -1e18
    labels = np.zeros(n, dtype=np.int64)
    score = np.full((n, n_labels), neg)
    back = np.zeros((n, n_labels), dtype=np.int64)
    n_seg = len(seg_starts)
    for g in range(n_seg):
        a = seg_starts[g]
        b = seg_starts[g + 1] if g + 1 < n_seg else n
        if b <= a:
            continue
        for j in range(n_labels):
            score[a, j] = logp[a, j] if first[j] else neg
        for t in range(a + 1, b):
            for j in range(n_labels):
                best = neg
                arg = 0
                for i in range(n_labels):
                    if allowed[i, j] and score[t - 1, i] > best:
                        best = score[t - 1, i]
                        arg = i
                score[t, j] = best + logp[t, j]
                back[t, j] = arg
        best = neg
        last = 0
        for i in range(n_labels):
            if final[i] and score[b - 1, i] > best:
                best = score[b - 1, i]
                last = i
        labels[b - 1] = last
        for t in range(b - 2, a - 1, -1):
            labels[t] = back[t + 1, labels[t + 1]]
    return labels


@numba.njit(cache=True)
def _viterbi(
    ids: IntArray,
    seg_starts: IntArray,
    ptr: IntArray,
    lab: IntArray,
    wt: npt.NDArray[np.float64],
    trans: npt.NDArray[np.float64],
) -> IntArray:
    """crfsuite's crf1dc_viterbi (state scores summed in attribute order) over each segment."""
    n = ids.shape[0]
    n_labels = trans.shape[0]
    state = _state_scores(ids, ptr, lab, wt, n_labels)
    trans_t = np.ascontiguousarray(trans.T)
    labels = np.zeros(n, dtype=np.int64)
    score = np.zeros((n, n_labels))
    back = np.zeros((n, n_labels), dtype=np.int64)
    n_seg = len(seg_starts)
    for g in range(n_seg):
        a = seg_starts[g]
        b = seg_starts[g + 1] if g + 1 < n_seg else n
        if b <= a:
            continue
        for j in range(n_labels):
            score[a, j] = state[a, j]
        for t in range(a + 1, b):
            prev = score[t - 1]
            for j in range(n_labels):
                tj = trans_t[j]
                best = -np.inf
                for i in range(n_labels):  # the max first (vectorises), then its first index
                    best = max(best, prev[i] + tj[i])
                for i in range(n_labels):
                    if prev[i] + tj[i] == best:
                        back[t, j] = i
                        break
                score[t, j] = best + state[t, j]
        best = -np.inf
        last = 0
        for i in range(n_labels):
            if best < score[b - 1, i]:
                best = score[b - 1, i]
                last = i
        labels[b - 1] = last
        for t in range(b - 2, a - 1, -1):
            labels[t] = back[t + 1, labels[t + 1]]
    return labels


def _clusters_of(norm: str, table: IntArray, clusters: Mapping[str, int]) -> IntArray:
    """Cluster character codes of the characters of ``norm``, as ``features.char_features`` has them."""
    cps = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32)
    if len(cps) and cps.max() >= 0x10000:
        return np.array([ord(cluster_char(clusters.get(DIGIT if c.isdigit() else c))) for c in norm])
    return table[cps]


@numba.njit(cache=True)
def _gram_ids(
    streams: IntArray,
    tpl_stream: IntArray,
    tpl_offs: IntArray,
    tpl_len: IntArray,
    tbl_keys: IntArray,
    tbl_vals: IntArray,
    tbl_start: IntArray,
    tbl_bits: IntArray,
    ids: IntArray,
) -> None:
    """Fill ``ids[:, 1 + t]`` with the attribute id of template ``t`` at each position (-1: unseen)."""
    n = ids.shape[0]
    for t in range(len(tpl_len)):
        src = streams[tpl_stream[t]]
        start, bits = tbl_start[t], tbl_bits[t]
        for i in range(n):
            key = 0
            for o in range(tpl_len[t]):
                key = (key << 21) | src[i + 3 + tpl_offs[t, o]]
            ids[i, 1 + t] = table_get(tbl_keys, tbl_vals, start, bits, key)


@numba.njit(cache=True)
def decode_ids(
    labels: IntArray, kinds: IntArray, types: IntArray, seg_starts: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """``crf.decode`` over label ids (kind 0-4: O, B, I, E, S), each segment on its own."""
    n = len(labels)
    out_s = np.empty(n, dtype=np.int64)
    out_e = np.empty(n, dtype=np.int64)
    out_t = np.empty(n, dtype=np.int64)
    m = 0
    n_seg = len(seg_starts)
    for g in range(n_seg):
        a = seg_starts[g]
        b = seg_starts[g + 1] if g + 1 < n_seg else n
        start = -1
        cur = -1
        for i in range(a, b + 1):
            kind = kinds[labels[i]] if i < b else 0
            code = types[labels[i]] if i < b else -1
            if kind == 0 or kind == 4 or kind == 1 or (kind == 2 and (start < 0 or code != cur)):
                if start >= 0:
                    out_s[m], out_e[m], out_t[m] = start, i, cur
                    m += 1
                start, cur = -1, -1
                if kind == 4:
                    out_s[m], out_e[m], out_t[m] = i, i + 1, code
                    m += 1
                elif kind == 1 or kind == 2:
                    start, cur = i, code
            elif kind == 3:
                if start < 0 or code != cur:
                    if start >= 0:
                        out_s[m], out_e[m], out_t[m] = start, i, cur
                        m += 1
                    start, cur = i, code
                out_s[m], out_e[m], out_t[m] = start, i + 1, cur
                m += 1
                start, cur = -1, -1
    return out_s[:m], out_e[:m], out_t[:m]
