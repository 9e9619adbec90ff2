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


@pytest.mark.parametrize("memory_entries", [10**6, 30])
def test_blocks_report_the_same_first_repeat_as_pairs(memory_entries: int) -> None:
    """add_block (the verifier's bulk call) finds the repeat and its position like add_many."""
    with DuplicateIndex(memory_entries) as index:
        # positions 0..9, two digests each (as a receipt's id and (agent, request_id))
        assert index.add_block([_digest(i) for i in range(20)], 0, 2) is None
        assert index.add_block([_digest(i) for i in range(20, 40)], 10, 2) is None
        # a block whose 4th digest (position 101) repeats an earlier one, then one repeating
        # inside itself at its 3rd digest (position 201)
        repeat = index.add_block([_digest(100), _digest(101), _digest(102), _digest(7)], 100, 2)
        assert repeat is not None and repeat[1] == 101
    with DuplicateIndex(memory_entries) as index:
        repeat = index.add_block([_digest(1), _digest(2), _digest(1), _digest(3)], 200, 2)
        assert repeat is not None and repeat[1] == 201
