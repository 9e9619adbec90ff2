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


@pytest.mark.parametrize("sort_run", [3, 1000])
def test_repeats_among_spilled_digests_are_found_at_the_end(sort_run: int) -> None:
    """Past the memory threshold a digest is only checked against the in-memory set when
    added; repeats among later digests come from finish(), the smallest repeat position first,
    with the first occurrence's position, whether the sort needs one run or many."""
    with DuplicateIndex(memory_entries=10, sort_run=sort_run) as index:
        assert index.add_block([_digest(i) for i in range(10)], 0, 2) is None  # in memory
        assert index.add_block([_digest(i) for i in range(10, 30)], 5, 2) is None  # spilled
        assert index.add_many([(_digest(25), 40), (_digest(99), 41)]) is None  # deferred
        assert index.add_block([_digest(12), _digest(98)], 50, 2) is None  # deferred
        # 25 was spilled at position 5 + 15 // 2 = 12 and 12 at 5 + 2 // 2 = 6
        assert index.finish() == (12, 40)


def test_finish_reports_the_first_occurrence_and_the_earliest_repeat() -> None:
    with DuplicateIndex(memory_entries=4, sort_run=2) as index:
        assert index.add_many([(_digest(i), i) for i in range(4)]) is None  # in memory
        assert index.add_many([(_digest(i), i) for i in range(4, 20)]) is None  # spilled
        assert index.add_many([(_digest(15), 30), (_digest(6), 31), (_digest(6), 32)]) \
            == (31, 32)  # a repeat inside one call is found at once
    with DuplicateIndex(memory_entries=4, sort_run=2) as index:
        assert index.add_many([(_digest(i), i) for i in range(4)]) is None
        assert index.add_many([(_digest(i), i) for i in range(4, 20)]) is None
        assert index.add_many([(_digest(2), 21)]) == (None, 21)  # in memory: found at once
    with DuplicateIndex(memory_entries=4, sort_run=2) as index:
        assert index.add_many([(_digest(i), i) for i in range(4)]) is None
        assert index.add_many([(_digest(i), i) for i in range(4, 20)]) is None
        assert index.add_many([(_digest(15), 30)]) is None
        assert index.add_many([(_digest(6), 25)]) is None
        assert index.finish() == (6, 25)


def test_nothing_repeated_past_the_threshold_is_clean() -> None:
    with DuplicateIndex(memory_entries=8, sort_run=5) as index:
        for start in range(0, 100, 10):
            assert index.add_block([_digest(i) for i in range(start, start + 10)], start, 1) \
                is None
        assert index.finish() is None
    with DuplicateIndex() as index:
        assert index.add_many([(_digest(1), 1)]) is None
        assert index.finish() is None  # never spilled
