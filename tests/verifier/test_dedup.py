"""Duplicate detection finds the first repeat, in memory and after spilling to disk."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.verifier.signer import Signer, sample_ledger
from verifier import cose
from verifier.encoding import decode_strict, split_sequence
from verifier.fast.batches import BATCH
from verifier.fast.dedup import DuplicateIndex, keyed_digests, sha256_digests


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


@pytest.mark.parametrize("flush_every", [3, 1000])
def test_repeats_among_spilled_digests_are_found_at_the_end(flush_every: int) -> None:
    """Past the memory threshold a digest is only checked against the in-memory set when
    added; repeats among later digests come from finish(), the smallest repeat position first,
    with the first occurrence's position, whether the sort needs one run or many."""
    with DuplicateIndex(memory_entries=10, flush_every=flush_every) as index:
        assert index.add_block([_digest(i) for i in range(10)], 0, 2) is None  # in memory
        assert index.add_block([_digest(i) for i in range(10, 30)], 5, 2) is None  # spilled
        assert index.add_many([(_digest(25), 40), (_digest(99), 41)]) is None  # deferred
        assert index.add_block([_digest(12), _digest(98)], 50, 2) is None  # deferred
        # 25 was spilled at position 5 + 15 // 2 = 12 and 12 at 5 + 2 // 2 = 6
        assert index.finish() == (12, 40)


def test_finish_reports_the_first_occurrence_and_the_earliest_repeat() -> None:
    with DuplicateIndex(memory_entries=4, flush_every=2) as index:
        assert index.add_many([(_digest(i), i) for i in range(4)]) is None  # in memory
        assert index.add_many([(_digest(i), i) for i in range(4, 20)]) is None  # spilled
        assert index.add_many([(_digest(15), 30), (_digest(6), 31), (_digest(6), 32)]) \
            == (31, 32)  # a repeat inside one call is found at once
    with DuplicateIndex(memory_entries=4, flush_every=2) as index:
        assert index.add_many([(_digest(i), i) for i in range(4)]) is None
        assert index.add_many([(_digest(i), i) for i in range(4, 20)]) is None
        assert index.add_many([(_digest(2), 21)]) == (None, 21)  # in memory: found at once
    with DuplicateIndex(memory_entries=4, flush_every=2) as index:
        assert index.add_many([(_digest(i), i) for i in range(4)]) is None
        assert index.add_many([(_digest(i), i) for i in range(4, 20)]) is None
        assert index.add_many([(_digest(15), 30)]) is None
        assert index.add_many([(_digest(6), 25)]) is None
        assert index.finish() == (6, 25)


def test_nothing_repeated_past_the_threshold_is_clean() -> None:
    with DuplicateIndex(memory_entries=8, flush_every=5) as index:
        for start in range(0, 100, 10):
            assert index.add_block([_digest(i) for i in range(start, start + 10)], start, 1) \
                is None
        assert index.finish() is None
    with DuplicateIndex() as index:
        assert index.add_many([(_digest(1), 1)]) is None
        assert index.finish() is None  # never spilled


def test_keyed_digests_separate_what_differs_and_join_what_repeats() -> None:
    ids = keyed_digests("r-1", "agent-a", "req-1")
    assert keyed_digests("r-1", "agent-a", "req-1") == ids
    assert len(ids[0]) == len(ids[1]) == 16
    assert keyed_digests("r-2", "agent-a", "req-1")[0] != ids[0]
    assert keyed_digests("r-2", "agent-a", "req-1")[1] == ids[1]
    # the agent is length-prefixed: ("agent-a", "1req") is not ("agent-a1", "req")
    assert keyed_digests("r-1", "agent-a1", "req")[1] != keyed_digests("r-1", "agent-a", "1req")[1]
    assert sha256_digests("r-1", "agent-a1", "req")[1] != sha256_digests("r-1", "agent-a",
                                                                          "1req")[1]


@pytest.mark.parametrize(("seed", "keyed"), [(None, True), ("random", True), ("0", False),
                                             ("12345", False)])
def test_keyed_digests_only_with_a_secret_random_hash_key(seed: str | None, keyed: bool) -> None:
    """A hash seed set by number is a key anyone can derive: then SHA-256 digests are used."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    if seed is not None:
        env["PYTHONHASHSEED"] = seed
    out = subprocess.run(
        [sys.executable, "-c",
         "from verifier.fast.dedup import keyed_digests_available as k; print(k())"],
        env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(keyed)


def _ledger_repeating_an_id(signer: Signer) -> tuple[bytes, int]:
    """A ledger of BATCH + 10 receipts (so forked workers check it) whose last receipt repeats
    the first one's id, validly signed; with the item index of the repeat."""
    items = [item for _, item in split_sequence([sample_ledger(signer, BATCH + 10)])]
    receipts = [k for k, item in enumerate(items)
                if cose.peek_content_type(item) == cose.RECEIPT]
    first = decode_strict(cose.parse(items[receipts[0]]).payload)
    last = decode_strict(cose.parse(items[receipts[-1]]).payload)
    items[receipts[-1]] = signer.sign(cose.RECEIPT, {**last, "id": first["id"]})
    return b"".join(items), receipts[-1]


@pytest.mark.parametrize("seed", [None, "0"])
@pytest.mark.parametrize("workers", [1, 2])
def test_repeated_ids_are_found_with_either_kind_of_digest(tmp_path: Path, seed: str | None,
                                                           workers: int) -> None:
    """The whole verifier, with keyed digests (forked workers share the key) or SHA-256 ones
    (PYTHONHASHSEED=0), in one process or in workers."""
    data, index = _ledger_repeating_an_id(Signer.generate())
    ledger = tmp_path / "ledger.cbor"
    ledger.write_bytes(data)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    if seed is not None:
        env["PYTHONHASHSEED"] = seed
    script = ("import sys; from verifier import VerifyOptions, audit_ledger_file as a; "
              f"r = a(sys.argv[1], VerifyOptions(workers={workers})); "
              "print(r.failure.code, r.failure.position.item)")
    out = subprocess.run([sys.executable, "-c", script, str(ledger)], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["duplicate_id", str(index)]


def test_an_id_never_meets_a_pair_digest() -> None:
    """Ids and (agent, request_id) pairs share one index: the same text as an id and as a pair
    must not give the same digest."""
    for digests in (keyed_digests, sha256_digests):
        as_id = digests("3:abcreq", "x", "y")[0]
        assert digests("other", "abc", "req")[1] != as_id  # the pair is "3:abc" + "req"
        assert digests("\x033:abcreq", "x", "y")[0] != digests("o", "abc", "req")[1]


def test_a_repeat_within_one_block_names_both_positions() -> None:
    with DuplicateIndex() as index:
        assert index.add_block([_digest(i) for i in range(6)], 0, 2) is None
        assert index.add_block([_digest(10), _digest(11), _digest(12), _digest(10)], 3, 2) \
            == (3, 4)


def test_spawned_workers_use_sha256_digests_and_still_find_repeats(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where workers are spawned (Windows), each draws its own hash key: keyed digests would
    miss a repeat checked by another worker, so the verifier falls back to SHA-256 ones."""
    from verifier import verify as verify_module
    from verifier.fast import batches

    monkeypatch.setattr(batches, "START_METHOD", "spawn")
    data, index = _ledger_repeating_an_id(Signer.generate())
    ledger = tmp_path / "ledger.cbor"
    ledger.write_bytes(data)
    run = verify_module._LedgerPass(verify_module.VerifyOptions(workers=2), str(ledger))
    report = run.run(verify_module.read_chunks(ledger))
    assert run._ctx is not None and not run._ctx.keyed_digests
    assert report.failure is not None
    assert (report.failure.code, report.failure.position and report.failure.position.item) \
        == ("duplicate_id", index)


def test_spilled_repeats_in_several_buckets_report_the_earliest_repeat() -> None:
    """Past the memory threshold digests go to bucket files (by first byte), appended to in
    several flushes; finish() checks every bucket and reports the smallest repeat position."""
    with DuplicateIndex(memory_entries=20, flush_every=37) as index:
        for start in range(0, 1000, 50):
            assert index.add_block([_digest(i) for i in range(start, start + 50)], start, 1) \
                is None
        late, early = _digest(100), _digest(500)  # both spilled, not in memory
        assert late[0] != early[0]  # two different buckets
        assert index.add_block([late], 2000, 1) is None  # found only by finish()
        assert index.add_block([early], 1500, 1) is None
        assert index.finish() == (500, 1500)
