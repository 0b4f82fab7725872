"""Small helpers over ``random.Random`` for the hot paths of the generator."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def pick(rng: random.Random, seq: Sequence[T]) -> T:
    """``rng.choice`` without its per-call overhead (one C call to ``random()``)."""
    return seq[int(rng.random() * len(seq))]
