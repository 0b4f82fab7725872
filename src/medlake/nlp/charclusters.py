"""Character clusters from unannotated text, for CRF features that generalise over rare characters.

Each character (digits folded into one token) is described by the characters seen left and right
of it (positive PMI), reduced by truncated SVD and grouped by k-means. Characters seen fewer than
``min_count`` times (and white space) get no cluster. Learned on training texts only, stored with the model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
from scipy import sparse

from medlake.nlp.features import DIGIT
from medlake.nlp.textnorm import normalize


def _tokens(text: str) -> list[str]:
    return [DIGIT if c.isdigit() else c for c in normalize(text)]


def build_clusters(
    texts: Iterable[str], *, k: int = 120, dims: int = 60, min_count: int = 3, seed: int = 13
) -> dict[str, int]:
    """Cluster id (0..k-1) of every character seen at least ``min_count`` times in ``texts``."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import TruncatedSVD

    seqs = [_tokens(t) for t in texts]
    freq = Counter(c for s in seqs for c in s)
    vocab = [c for c, n in freq.most_common() if n >= min_count and not c.isspace()]
    if len(vocab) <= k:
        return {c: i for i, c in enumerate(vocab)}
    index = {c: i for i, c in enumerate(vocab)}
    rows: list[int] = []
    cols: list[int] = []
    v = len(vocab)
    for s in seqs:
        ids = [index.get(c, -1) for c in s]
        for a, b in zip(ids, ids[1:], strict=False):
            if a >= 0 and b >= 0:
                rows.extend((a, b))
                cols.extend((v + b, a))  # right neighbour of a; left neighbour of b
    m = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(v, 2 * v)).tocsr()
    total = m.sum()
    row = np.asarray(m.sum(axis=1)).ravel()
    col = np.asarray(m.sum(axis=0)).ravel()
    m = m.tocoo()
    pmi = np.log(m.data * total / (row[m.row] * col[m.col]))
    keep = pmi > 0
    ppmi = sparse.csr_matrix((pmi[keep], (m.row[keep], m.col[keep])), shape=m.shape)
    emb = TruncatedSVD(n_components=min(dims, v - 1), random_state=seed).fit_transform(ppmi)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True) + 1e-9
    labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(emb)
    return {c: int(label) for c, label in zip(vocab, labels, strict=True)}
