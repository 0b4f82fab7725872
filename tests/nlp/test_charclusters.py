"""Character clusters: characters seen in the same contexts share a cluster; features carry them."""

from __future__ import annotations

from medlake.nlp.charclusters import build_clusters
from medlake.nlp.features import char_features, cluster_char


def test_characters_in_the_same_contexts_share_a_cluster() -> None:
    texts = [f"左{x}右" for x in "甲乙丙" for _ in range(5)] + [
        f"上{y}下" for y in "子丑寅" for _ in range(5)
    ]
    clusters = build_clusters(texts, k=6, dims=8, min_count=3)
    assert clusters["甲"] == clusters["乙"] == clusters["丙"]
    assert clusters["子"] == clusters["丑"] == clusters["寅"]
    assert clusters["甲"] != clusters["子"]
    assert set(clusters.values()) <= set(range(6))


def test_rare_characters_and_small_vocabularies() -> None:
    assert "罕" not in build_clusters(["罕见", "见见见", "见"], k=2, min_count=2)
    assert build_clusters(["肺肺肺", "癌癌癌"], k=5) == {"肺": 0, "癌": 1}


def test_cluster_features_follow_the_characters() -> None:
    feats = char_features("肺癌1", [], {"肺": 3, "<D>": 7})
    assert f"q0={cluster_char(3)}" in feats[0]
    assert "q0=x" in feats[1]  # 癌 has no cluster
    assert f"q0={cluster_char(7)}" in feats[2]
    assert f"qb-1=x{cluster_char(7)}" in feats[2]
    assert not any(f.startswith("q") for f in char_features("肺癌", [])[0])
