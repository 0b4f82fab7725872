"""A small neural tagger trained here: character BiLSTM-CRF, combined with the feature CRF.

Inputs per character: a character embedding, the sum of the embeddings of its left and right
character bigrams, and the dictionary-hit tags of the feature CRF (``features.dict_tags`` of the
built-in/PyCMeKG/ICD lexicon, the training gazetteer — out-of-fold while training, exactly as for
the CRF — and the THUOCL word list) as a multi-hot vector. One BiLSTM layer, a linear layer to
BIOES label scores and a linear-chain CRF on top. Nothing is downloaded: the weights are learned
from the training corpus only (PyTorch, CPU).

``CrfModel`` combines the two models: the average of both models' per-character label marginals
(forward-backward), then the best *valid* BIOES path over that average. The two models make
different mistakes (the CRF is sharper on dictionary terms, the BiLSTM on context), so the
average is better than either (``benchmarks/results/nlp.md``).

Stored in the model directory next to the CRF, never as a pickle::

    neural.json   vocabularies, dimensions, training parameters
    neural.pt     the weights (a PyTorch state dict, loaded with ``weights_only=True``)
"""

from __future__ import annotations

import json
import pickle  # only for its error type: weights are read with torch.load(weights_only=True)
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from medlake.errors import NlpModelError
from medlake.nlp.corpus import Document
from medlake.nlp.fasttag import chain_marginals
from medlake.nlp.types import LABEL_CODES

FORMAT_VERSION = 1
LABELS = ("O", *(f"{t}-{c}" for c in sorted(LABEL_CODES.values()) for t in "BIES"))
_UNK = 1  # 0 pads
Floats = npt.NDArray[np.float64]


@dataclass
class NeuralParams:
    epochs: int = 12
    average_last: int = 3  # the saved weights are the mean of the last epochs' (less epoch-to-epoch noise)
    char_dim: int = 100
    bigram_dim: int = 50
    dict_dim: int = 50
    hidden: int = 160
    dropout: float = 0.4
    lr: float = 2e-3
    batch: int = 32
    min_bigram: int = 2
    seed: int = 1
    weight: float = 0.5  # the CRF's share of the averaged marginals (the BiLSTM has the rest)


@dataclass
class Vocab:
    chars: dict[str, int]
    bigrams: dict[str, int]
    dict_tags: dict[str, int]

    @classmethod
    def build(cls, texts: Sequence[str], tags: Sequence[Sequence[Sequence[str]]], min_bigram: int) -> Vocab:
        chars: Counter[str] = Counter()
        bigrams: Counter[str] = Counter()
        seen: set[str] = set()
        for norm, per_char in zip(texts, tags, strict=True):
            chars.update(norm)
            bigrams.update(_bigrams(norm)[1])
            for t in per_char:
                seen.update(t)
        return cls(
            chars={c: k + 2 for k, c in enumerate(sorted(chars))},
            bigrams={
                b: k + 2 for k, b in enumerate(sorted(b for b, n in bigrams.items() if n >= min_bigram))
            },
            dict_tags={t: k for k, t in enumerate(sorted(seen))},
        )


def _bigrams(norm: str) -> tuple[list[str], list[str]]:
    """Left (``c[i-1]c[i]``) and right (``c[i]c[i+1]``) bigram of every character (``#`` beyond)."""
    padded = "#" + norm + "#"
    left = [padded[i : i + 2] for i in range(len(norm))]
    return left, left[1:] + [padded[-2:]]


@dataclass
class Encoded:
    """One segment's model inputs (and gold label ids while training)."""

    doc: int
    start: int
    chars: list[int]
    left: list[int]
    right: list[int]
    tags: list[list[int]]
    labels: list[int]


def encode(
    norm: str,
    tags: Sequence[Sequence[str]],
    vocab: Vocab,
    pieces: Sequence[tuple[int, int]],
    doc: int = 0,
    labels: Sequence[str] | None = None,
) -> list[Encoded]:
    left, right = _bigrams(norm)
    ch, bg, dt = vocab.chars, vocab.bigrams, vocab.dict_tags
    c_ids = [ch.get(c, _UNK) for c in norm]
    l_ids = [bg.get(b, _UNK) for b in left]
    r_ids = [bg.get(b, _UNK) for b in right]
    t_ids = [[dt[t] for t in per if t in dt] for per in tags]
    lab = [LABELS.index(x) for x in labels] if labels is not None else [0] * len(norm)
    return [
        Encoded(doc, a, c_ids[a:b], l_ids[a:b], r_ids[a:b], t_ids[a:b], lab[a:b]) for a, b in pieces if b > a
    ]


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a dependency
        raise NlpModelError(
            "this model has a neural part and needs PyTorch", hint="Run `make install` (it installs torch)."
        ) from exc
    return torch


def _module(vocab: Vocab, p: NeuralParams) -> Any:
    torch = _torch()
    nn = torch.nn

    class BiLstmCrf(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            n = len(LABELS)
            self.char_emb = nn.Embedding(len(vocab.chars) + 2, p.char_dim, padding_idx=0)
            self.bigram_emb = nn.Embedding(len(vocab.bigrams) + 2, p.bigram_dim, padding_idx=0)
            self.dict_proj = nn.Linear(max(1, len(vocab.dict_tags)), p.dict_dim)
            self.drop = nn.Dropout(p.dropout)
            self.lstm = nn.LSTM(
                p.char_dim + p.bigram_dim + p.dict_dim, p.hidden, batch_first=True, bidirectional=True
            )
            self.out = nn.Linear(2 * p.hidden, n)
            self.trans = nn.Parameter(torch.zeros(n, n))
            self.start = nn.Parameter(torch.zeros(n))
            self.end = nn.Parameter(torch.zeros(n))

        def emissions(self, c: Any, left: Any, right: Any, d: Any, lens: list[int]) -> Any:
            x = torch.cat(
                [
                    self.char_emb(c),
                    self.bigram_emb(left) + self.bigram_emb(right),
                    torch.relu(self.dict_proj(d)),
                ],
                -1,
            )
            packed = nn.utils.rnn.pack_padded_sequence(
                self.drop(x), lens, batch_first=True, enforce_sorted=False
            )
            h, _ = self.lstm(packed)
            h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=c.shape[1])
            return self.out(self.drop(h))

        def log_z(self, em: Any, mask: Any) -> Any:
            alpha = self.start + em[:, 0]
            for t in range(1, em.shape[1]):
                nxt = torch.logsumexp(alpha.unsqueeze(2) + self.trans + em[:, t].unsqueeze(1), 1)
                alpha = torch.where(mask[:, t].unsqueeze(1) > 0, nxt, alpha)
            return torch.logsumexp(alpha + self.end, 1)

        def gold_score(self, em: Any, y: Any, mask: Any) -> Any:
            score = self.start[y[:, 0]] + em[:, 0].gather(1, y[:, :1]).squeeze(1)
            for t in range(1, em.shape[1]):
                step = em[:, t].gather(1, y[:, t : t + 1]).squeeze(1) + self.trans[y[:, t - 1], y[:, t]]
                score = score + step * mask[:, t]
            last = y.gather(1, (mask.sum(1).long() - 1).unsqueeze(1)).squeeze(1)
            return score + self.end[last]

    return BiLstmCrf()


def _batch(items: Sequence[Encoded], n_tags: int) -> tuple[Any, ...]:
    """Padded tensors of a batch of segments (numpy fills them: no per-character Python work)."""
    torch = _torch()
    lens = [len(it.chars) for it in items]
    width = max(lens)
    rows = np.repeat(np.arange(len(items)), lens)
    cols = np.concatenate([np.arange(n) for n in lens])

    def padded(field: str) -> Any:
        out = np.zeros((len(items), width), dtype=np.int64)
        out[rows, cols] = np.fromiter(
            (v for it in items for v in getattr(it, field)), dtype=np.int64, count=len(rows)
        )
        return torch.from_numpy(out)

    d = np.zeros((len(items), width, max(1, n_tags)), dtype=np.float32)
    tag_counts = [len(ts) for it in items for ts in it.tags]
    flat_tags = np.fromiter((t for it in items for ts in it.tags for t in ts), dtype=np.int64)
    d[np.repeat(rows, tag_counts), np.repeat(cols, tag_counts), flat_tags] = 1.0
    mask = np.zeros((len(items), width), dtype=np.float32)
    mask[rows, cols] = 1.0
    return (
        padded("chars"),
        padded("left"),
        padded("right"),
        torch.from_numpy(d),
        padded("labels"),
        torch.from_numpy(mask),
        lens,
    )


def _batches(items: list[Encoded], size: int, rng: random.Random) -> list[list[Encoded]]:
    """Shuffled batches of segments of similar length (less padding, same randomness per epoch)."""
    rng.shuffle(items)
    out: list[list[Encoded]] = []
    pool = size * 20
    for k in range(0, len(items), pool):
        chunk = sorted(items[k : k + pool], key=lambda it: len(it.chars))
        out.extend(chunk[j : j + size] for j in range(0, len(chunk), size))
    rng.shuffle(out)
    return out


def train_neural(
    docs: Sequence[Document],
    inputs: Sequence[tuple[str, list[list[str]]]],
    label_seqs: Sequence[list[str]],
    pieces: Sequence[list[tuple[int, int]]],
    out_dir: Path,
    params: NeuralParams,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Train on per-document ``inputs`` (normalised text, dictionary tags per character), gold
    ``label_seqs`` (BIOES per character) and ``pieces`` (segments); write neural.json/neural.pt."""
    torch = _torch()
    say = progress or (lambda _m: None)
    torch.manual_seed(params.seed)
    rng = random.Random(params.seed)
    vocab = Vocab.build([n for n, _ in inputs], [t for _, t in inputs], params.min_bigram)
    items = [
        it
        for k, ((norm, tags), labels, segs) in enumerate(zip(inputs, label_seqs, pieces, strict=True))
        for it in encode(norm, tags, vocab, segs, k, labels)
    ]
    if not items:
        raise NlpModelError("no training text for the neural tagger")
    model = _module(vocab, params)
    opt = torch.optim.Adam(model.parameters(), lr=params.lr)
    model.train()
    averaged: dict[str, Any] | None = None
    n_avg = 0
    for epoch in range(params.epochs):
        t0 = time.monotonic()
        total = 0.0
        for batch in _batches(items, params.batch, rng):
            c, left, right, d, y, mask, lens = _batch(batch, len(vocab.dict_tags))
            em = model.emissions(c, left, right, d, lens)
            loss = (model.log_z(em, mask) - model.gold_score(em, y, mask)).sum()
            opt.zero_grad()
            (loss / len(batch)).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            total += float(loss.detach())
        if epoch >= params.epochs - params.average_last:
            snap = {k: v.detach().clone() for k, v in model.state_dict().items()}
            averaged = snap if averaged is None else {k: averaged[k] + snap[k] for k in snap}
            n_avg += 1
        say(
            f"neural epoch {epoch + 1}/{params.epochs}: loss {total / len(items):.3f} ({time.monotonic() - t0:.0f} s)"
        )
    if averaged is not None and n_avg > 1:
        model.load_state_dict({k: v / n_avg for k, v in averaged.items()})
    meta = {
        "format_version": FORMAT_VERSION,
        "kind": "medlake-char-bilstm-crf",
        "labels": list(LABELS),
        "params": asdict(params),
        "documents": len(docs),
        "chars": sorted(vocab.chars, key=vocab.chars.__getitem__),
        "bigrams": sorted(vocab.bigrams, key=vocab.bigrams.__getitem__),
        "dict_tags": sorted(vocab.dict_tags, key=vocab.dict_tags.__getitem__),
    }
    tmp = out_dir / ".neural.pt.tmp"
    torch.save(model.state_dict(), tmp)
    tmp_meta = out_dir / ".neural.json.tmp"
    tmp_meta.write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    tmp.replace(out_dir / "neural.pt")
    tmp_meta.replace(out_dir / "neural.json")


class NeuralTagger:
    """A loaded neural part: ``marginals(norm, tags, pieces)`` gives per-character label marginals."""

    def __init__(self, directory: Path) -> None:
        torch = _torch()
        meta = json.loads((directory / "neural.json").read_text("utf-8"))
        if meta.get("format_version") != FORMAT_VERSION or meta.get("kind") != "medlake-char-bilstm-crf":
            raise NlpModelError(f"{directory}: unsupported neural model format {meta.get('format_version')}")
        if tuple(meta["labels"]) != LABELS:
            raise NlpModelError(f"{directory}: the neural model's labels differ from this version's")
        self.params = NeuralParams(**meta["params"])
        self.vocab = Vocab(
            chars={c: k + 2 for k, c in enumerate(meta["chars"])},
            bigrams={b: k + 2 for k, b in enumerate(meta["bigrams"])},
            dict_tags={t: k for k, t in enumerate(meta["dict_tags"])},
        )
        self.model = _module(self.vocab, self.params)
        weights = directory / "neural.pt"
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            self.model.load_state_dict(state)
        except (OSError, RuntimeError, KeyError, ValueError, pickle.UnpicklingError) as exc:
            raise NlpModelError(
                f"{weights}: the neural part's weights are missing or damaged ({type(exc).__name__})",
                hint="Retrain the model (`medlake nlp train`), or train it with --neural-epochs 0.",
            ) from exc
        self.model.eval()
        self._chain = tuple(
            getattr(self.model, k).detach().double().numpy().copy() for k in ("trans", "start", "end")
        )

    def marginals(
        self, norm: str, tags: Sequence[Sequence[str]], pieces: Sequence[tuple[int, int]]
    ) -> Floats:
        """``(len(norm), len(LABELS))`` posterior label probabilities, each segment on its own."""
        torch = _torch()
        state = np.zeros((len(norm), len(LABELS)))
        items = encode(norm, tags, self.vocab, pieces)
        m = self.model
        with torch.inference_mode():
            for k in range(0, len(items), 64):
                batch = items[k : k + 64]
                c, left, right, d, _, _, lens = _batch(batch, len(self.vocab.dict_tags))
                em = m.emissions(c, left, right, d, lens).double().numpy()
                for b, it in enumerate(batch):
                    state[it.start : it.start + lens[b]] = em[b, : lens[b]]
        starts = np.array([it.start for it in items], dtype=np.int64)
        return chain_marginals(state, starts, *self._chain)
