"""Constrained clustering: HIS anchors, cannot-links, order independence."""

from __future__ import annotations

import random

from medlake.mpi.cluster import Edge, cluster

# records: 0 HIS(100), 1 HIS(200), 2 LIS(50), 3 LIS(70), 4 PACS(30)
PROV = [100, 200, 50, 70, 30]
HIS = [True, True, False, False, False]


def test_clusters_anchor_on_the_his_member() -> None:
    res = cluster(PROV, HIS, [Edge(0, 2, 0.99, "splink"), Edge(3, 4, 0.95, "splink")])
    assert res.person_id == [100, 200, 100, 30, 30]
    assert res.method == ["his-anchor", "his-anchor", "splink", "splink", "cluster-anchor"]
    assert res.probability[2] == 0.99


def test_two_his_patients_are_never_merged() -> None:
    edges = [Edge(0, 2, 0.97, "splink"), Edge(1, 2, 0.99, "splink")]
    res = cluster(PROV, HIS, edges)
    assert res.person_id[2] == 200  # the stronger link wins
    assert res.person_id[0] == 100 and res.person_id[1] == 200
    assert res.refused == [Edge(0, 2, 0.97, "splink")]


def test_no_match_decision_is_a_cannot_link_even_through_others() -> None:
    edges = [Edge(2, 3, 0.99, "splink"), Edge(3, 4, 0.98, "splink")]
    res = cluster(PROV, HIS, edges, no_match=[(2, 4)])
    assert res.person_id[2] == res.person_id[3] != res.person_id[4]


def test_review_match_outranks_model_links() -> None:
    edges = [Edge(0, 2, 0.999, "splink"), Edge(1, 2, 1.0, "review")]
    res = cluster(PROV, HIS, edges)
    assert res.person_id[2] == 200 and res.method[2] == "review"


def test_result_does_not_depend_on_edge_order() -> None:
    rng = random.Random(5)
    n = 60
    prov = list(range(1000, 1000 + n))
    his = [i % 4 == 0 for i in range(n)]
    edges = [Edge(a, b, round(rng.random(), 3), "splink") for a, b in
             {tuple(sorted(rng.sample(range(n), 2))) for _ in range(120)}]  # fmt: skip
    first = cluster(prov, his, edges)
    for _ in range(5):
        rng.shuffle(edges)
        again = cluster(prov, his, edges)
        assert again.person_id == first.person_id
    for root in set(first.person_id):
        assert sum(1 for i in range(n) if first.person_id[i] == root and his[i]) <= 1
