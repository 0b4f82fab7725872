"""Scored pairs → clusters of source records, each cluster one real person.

Clustering is greedy single-linkage with two cannot-link constraints: a cluster never holds two
different HIS ids (the HIS is the anchor system: its ids are people, and merging two of them is a
job for the HIS, not for the index), and never holds a pair a reviewer decided is not a match.
Edges are taken strongest first — reviewers' matches, then by probability — so a weak edge cannot
pull in a record a stronger one already placed elsewhere. The result is independent of input order.

A cluster's person id is the HIS member's ``person_id_for`` id, or else the lowest provisional id
of its members.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Edge:
    left: int
    right: int
    probability: float
    method: str  # "splink" or "review"


@dataclass
class Clustering:
    """Per record (index into the input order): cluster person id, link probability and method."""

    person_id: list[int]
    probability: list[float]
    method: list[str]
    refused: list[Edge] = field(default_factory=list)


class _Sets:
    def __init__(self, n: int, his: Sequence[bool]) -> None:
        self.parent = list(range(n))
        self.his_member: list[int | None] = [i if his[i] else None for i in range(n)]
        self.cannot: dict[int, set[int]] = {}

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def forbid(self, a: int, b: int) -> None:
        self.cannot.setdefault(a, set()).add(b)
        self.cannot.setdefault(b, set()).add(a)

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ha, hb = self.his_member[ra], self.his_member[rb]
        if ha is not None and hb is not None:
            return False
        ca, cb = self.cannot.get(ra, set()), self.cannot.get(rb, set())
        if any(self.find(x) == rb for x in ca) or any(self.find(x) == ra for x in cb):
            return False
        self.parent[rb] = ra
        self.his_member[ra] = ha if ha is not None else hb
        if cb:
            self.cannot.setdefault(ra, set()).update(cb)
        return True


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected components of ``n`` nodes: each node's label is the smallest node index of its component."""
    labels = np.arange(n, dtype=np.int64)
    if len(left) == 0:
        return labels
    while True:
        low = np.minimum(labels[left], labels[right])
        before = labels.copy()
        np.minimum.at(labels, left, low)
        np.minimum.at(labels, right, low)
        labels = labels[labels]  # pointer jumping
        if np.array_equal(labels, before):
            return labels


def cluster_arrays(
    provisional: np.ndarray,
    is_his: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
    review: np.ndarray,
    no_match: Sequence[tuple[int, int]] = (),
) -> Clustering:
    """Vectorised ``cluster``: plain connected components, and the greedy constrained pass only for the
    components that break a constraint (two HIS members, or a reviewer's no-match inside)."""
    n = len(provisional)
    labels = components(n, left, right)
    his_per_label = np.bincount(labels[is_his], minlength=n)
    bad = his_per_label > 1
    for a, b in no_match:
        if labels[a] == labels[b]:
            bad[labels[a]] = True
    accepted = np.ones(len(left), dtype=bool)
    refused: list[Edge] = []
    final = labels.copy()
    bad_edges = np.flatnonzero(bad[labels[left]]) if len(left) else np.array([], dtype=np.int64)
    if len(bad_edges):
        sets = _Sets(n, is_his.tolist())
        for a, b in no_match:
            sets.forbid(a, b)
        order = sorted(
            bad_edges.tolist(),
            key=lambda k: (not review[k], -probability[k], min(left[k], right[k]), max(left[k], right[k])),
        )
        for k in order:
            if not sets.union(int(left[k]), int(right[k])):
                accepted[k] = False
                refused.append(
                    Edge(
                        int(left[k]),
                        int(right[k]),
                        float(probability[k]),
                        "review" if review[k] else "splink",
                    )
                )
        for i in np.flatnonzero(bad[labels]).tolist():
            final[i] = n + sets.find(i)
    size = 2 * n
    his_anchor = np.full(size, -1, dtype=np.int64)
    his_anchor[final[is_his]] = provisional[is_his]
    low = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(low, final, provisional)
    anchor = np.where(his_anchor >= 0, his_anchor, low)
    person_id = anchor[final]
    score = np.full(n, -1.0)
    ok = np.flatnonzero(accepted)
    edge_score = probability[ok] + np.where(review[ok], 2.0, 0.0)
    np.maximum.at(score, left[ok], edge_score)
    np.maximum.at(score, right[ok], edge_score)
    linked = score >= 0
    prob = np.where(linked, np.where(score >= 2.0, score - 2.0, score), 1.0)
    method = np.where(score >= 2.0, "review", np.where(linked, "splink", "singleton")).astype(object)
    method[linked & ~is_his & (person_id == provisional)] = "cluster-anchor"
    method[is_his] = "his-anchor"
    prob[is_his] = 1.0
    return Clustering(person_id.tolist(), prob.tolist(), method.tolist(), refused)


def cluster(
    provisional: Sequence[int],
    is_his: Sequence[bool],
    edges: Sequence[Edge],
    no_match: Sequence[tuple[int, int]] = (),
) -> Clustering:
    """Cluster records ``0..n-1`` along ``edges`` (already filtered to links), honouring ``no_match``."""
    return cluster_arrays(
        np.asarray(provisional, dtype=np.int64),
        np.asarray(is_his, dtype=bool),
        np.asarray([e.left for e in edges], dtype=np.int64),
        np.asarray([e.right for e in edges], dtype=np.int64),
        np.asarray([e.probability for e in edges], dtype=np.float64),
        np.asarray([e.method == "review" for e in edges], dtype=bool),
        no_match,
    )
