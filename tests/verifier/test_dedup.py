"""Duplicate detection finds the first repeat, in memory and after spilling to disk."""

from __future__ import annotations

import hashlib

import pytest

from verifier.dedup import DuplicateIndex


def _digest(i: int) -> bytes:
    return hashlib.sha256(str(i).encode()).digest()[:16]


@pytest.mark.parametrize("memory_entries", [10**6, 50])
def test_first_repeat_is_reported_with_both_positions(memory_entries: int) -> None:
    with DuplicateIndex(memory_entries) as index:
        for start in range(0, 200, 20):
            assert index.add_many([(_digest(i), i) for i in range(start, start + 20)]) is None
        repeat = index.add_many([(_digest(1000), 1000), (_digest(37), 1001)])
        assert repeat is not None and repeat[1] == 1001
        assert repeat[0] in (None, 37)  # the first position is kept once spilled to disk


@pytest.mark.parametrize("memory_entries", [10**6, 5])
def test_a_repeat_inside_one_batch(memory_entries: int) -> None:
    with DuplicateIndex(memory_entries) as index:
        assert index.add_many([(_digest(i), i) for i in range(10)]) is None
        repeat = index.add_many([(_digest(50), 50), (_digest(50), 51)])
        assert repeat is not None and repeat[1] == 51
