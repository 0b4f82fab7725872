"""Open-addressing hash tables of non-negative int64 keys → int64 values, usable inside numba code.

``new_table`` lays a table out in two arrays of a power-of-two size (empty slot: key -1), slots
picked by Fibonacci hashing; ``table_get`` probes linearly. Used by the compiled dictionary matcher
and by the CRF's attribute look-up.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def new_table(keys: IntArray, vals: IntArray) -> tuple[IntArray, IntArray, int]:
    """A table with at least twice as many slots as keys, and its size in bits."""
    bits = max(3, int(2 * len(keys)).bit_length())
    tkeys, tvals = build_table(keys, vals, bits)
    return tkeys, tvals, bits


@numba.njit(cache=True)
def _slot(key: int, bits: int) -> int:
    return np.int64((np.uint64(key) * _GOLDEN) >> np.uint64(64 - bits))  # type: ignore[return-value]


@numba.njit(cache=True)
def build_table(keys: IntArray, vals: IntArray, bits: int) -> tuple[IntArray, IntArray]:
    size = 1 << bits
    tkeys = np.full(size, -1, dtype=np.int64)
    tvals = np.full(size, -1, dtype=np.int64)
    for h in range(len(keys)):
        slot = _slot(keys[h], bits)
        while tkeys[slot] != -1 and tkeys[slot] != keys[h]:
            slot = (slot + 1) & (size - 1)
        tkeys[slot] = keys[h]
        tvals[slot] = vals[h]
    return tkeys, tvals


@numba.njit(cache=True)
def table_get(tkeys: IntArray, tvals: IntArray, start: int, bits: int, key: int) -> int:
    """The value of ``key`` in the table of ``2**bits`` slots at ``tkeys[start:]``, or -1."""
    size = 1 << bits
    slot = _slot(key, bits)
    while True:
        k = tkeys[start + slot]
        if k == key:
            return int(tvals[start + slot])
        if k == -1:
            return -1
        slot = (slot + 1) & (size - 1)
