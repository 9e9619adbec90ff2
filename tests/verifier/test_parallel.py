"""Parallel verification gives the same answers as in-process verification."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.verifier.signer import Signer, sample_ledger
from verifier import VerifyOptions, audit_ledger, audit_ledger_file
from verifier import verify as verify_module
from verifier.encoding import split_sequence
from verifier.errors import UsageError
from verifier.fast.batches import BATCH, batch_bytes
from verifier.fast.dedup import DuplicateIndex
from verifier.rollup import RollupSpec


def test_parallel_and_serial_agree_on_a_valid_ledger() -> None:
    data = sample_ledger(Signer.generate(), BATCH * 3 + 17, chains=3)
    spec = RollupSpec(("team", "provider"), "day", "reporting")
    serial = audit_ledger([data], VerifyOptions(workers=1, rollup=spec))
    parallel = audit_ledger([data[i : i + 4096] for i in range(0, len(data), 4096)],
                            VerifyOptions(workers=2, rollup=spec))
    assert serial.valid and parallel.valid
    assert serial.totals == parallel.totals
    assert serial.totals_reporting == parallel.totals_reporting
    assert serial.chains == parallel.chains
    assert serial.rollup is not None and parallel.rollup is not None
    assert {k: (g.cost, g.receipts, g.tokens) for k, g in serial.rollup.groups.items()} == {
        k: (g.cost, g.receipts, g.tokens) for k, g in parallel.rollup.groups.items()}


def test_parallel_reports_the_first_failure_with_its_position() -> None:
    data = sample_ledger(Signer.generate(), BATCH * 3, chains=1)
    items = [item for _, item in split_sequence([data])]
    target = 4 + BATCH * 2 + 5  # a receipt in the third batch
    flipped = bytearray(items[target])
    flipped[-1] ^= 1
    items[target] = bytes(flipped)
    report = audit_ledger([b"".join(items)], VerifyOptions(workers=2))
    assert report.failure is not None
    assert report.failure.code == "bad_signature"
    assert report.failure.position is not None
    assert report.failure.position.item == target
    assert report.failure.position.seq == BATCH * 2 + 5


def test_a_receipt_missing_at_a_batch_boundary_is_found_in_both_modes() -> None:
    data = sample_ledger(Signer.generate(), BATCH * 2 + 10, chains=1)
    items = [item for _, item in split_sequence([data])]
    first_receipt = 4
    missing = first_receipt + BATCH  # the first receipt of the second batch
    del items[missing]
    tampered = b"".join(items)
    for workers in (1, 2):
        report = audit_ledger([tampered], VerifyOptions(workers=workers))
        assert report.failure is not None
        assert report.failure.code == "missing_receipt"
        assert report.failure.position is not None
        assert report.failure.position.item == missing
        assert report.failure.position.seq == BATCH + 1


def test_a_duplicate_request_across_batches_is_reported_at_the_repeat() -> None:
    signer = Signer.generate()
    data = sample_ledger(signer, BATCH + 50, chains=1)
    items = [item for _, item in split_sequence([data])]
    # Repeat a whole receipt of the first batch later on: a duplicate, then a broken chain.
    repeated = items[4 + 3]
    items.insert(4 + BATCH + 20, repeated)
    report = audit_ledger([b"".join(items)], VerifyOptions(workers=2))
    assert report.failure is not None
    assert report.failure.code in ("duplicate_id", "chain_fork", "out_of_order")
    assert report.failure.position is not None
    assert report.failure.position.item == 4 + BATCH + 20


def test_workers_reading_the_file_agree_with_bytes_sent_to_them(tmp_path: Path) -> None:
    data = sample_ledger(Signer.generate(), BATCH * 3 + 17, chains=3)
    path = tmp_path / "ledger.cbor"
    path.write_bytes(data)
    spec = RollupSpec(("team",), "month", "native")
    sent = audit_ledger([data], VerifyOptions(workers=2, rollup=spec))
    read = audit_ledger_file(path, VerifyOptions(workers=2, rollup=spec))
    assert sent.valid and read.valid
    assert (read.receipts, read.totals, read.chains) == (sent.receipts, sent.totals, sent.chains)
    assert read.rollup is not None and sent.rollup is not None
    assert {k: g.cost for k, g in read.rollup.groups.items()} == {
        k: g.cost for k, g in sent.rollup.groups.items()}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_read_by_workers_reports_the_first_failure_at_its_place(
        tmp_path: Path, workers: int) -> None:
    data = sample_ledger(Signer.generate(), BATCH * 2 + 40, chains=2)
    items = [item for _, item in split_sequence([data])]
    target = 4 + BATCH + 33
    flipped = bytearray(items[target])
    flipped[-1] ^= 1
    items[target] = bytes(flipped)
    path = tmp_path / "ledger.cbor"
    path.write_bytes(b"".join(items))
    report = audit_ledger_file(path, VerifyOptions(workers=workers))
    assert report.failure is not None and report.failure.position is not None
    assert (report.failure.code, report.failure.position.item) == ("bad_signature", target)


def test_a_ledger_file_that_shrinks_under_the_workers_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.cbor"
    path.write_bytes(b"\x00" * 100)
    assert batch_bytes(90, 10, str(path)) == b"\x00" * 10
    with pytest.raises(UsageError, match="changed while it was being verified"):
        batch_bytes(90, 20, str(path))


def _ledger_with_repeated_request(n: int, first: int, repeat: int) -> bytes:
    """A valid-looking, correctly chained and signed ledger whose receipt ``repeat`` reuses
    the (agent, request_id) of receipt ``first``."""
    def reuse(payloads: list[dict[str, Any]]) -> None:
        payloads[repeat]["agent"] = payloads[first]["agent"]
        payloads[repeat]["request_id"] = payloads[first]["request_id"]

    return sample_ledger(Signer.generate(), n, chains=1, edit=reuse)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_repeat_past_the_memory_threshold_is_found_at_its_place(
        monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    """With the duplicate index past its memory threshold, a repeat among later receipts is
    found when the pass ends, and reported at the repeat, before any later failure."""
    first, repeat = BATCH + 50, 2 * BATCH + 200  # both past the threshold, in other batches
    data = _ledger_with_repeated_request(2 * BATCH + 300, first, repeat)
    items = [item for _, item in split_sequence([data])]
    flipped = bytearray(items[-2])  # the last receipt's signature: a later failure
    flipped[-1] ^= 1
    tampered = b"".join([*items[:-2], bytes(flipped), items[-1]])
    monkeypatch.setattr(verify_module, "DuplicateIndex",
                        lambda: DuplicateIndex(memory_entries=600, flush_every=50))
    first_receipt = 4
    for ledger in (data, tampered):
        report = audit_ledger([ledger], VerifyOptions(workers=workers))
        assert report.failure is not None and report.failure.position is not None
        assert report.failure.code == "duplicate_id"
        assert report.failure.position.item == first_receipt + repeat
        assert f"item {first_receipt + first}" in report.failure.reason
