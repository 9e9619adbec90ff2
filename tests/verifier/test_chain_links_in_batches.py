"""Step 9 (spec §9.2) when receipts are checked in batches: the same answer as linking each.

A worker links its batch's receipts with the one rule (``ChainLinks.link``) and, when all link,
returns one run per chain; the main process links each run's first receipt and takes the state
the run reached. These tests prove the runs are really used for valid ledgers, and that for
reordered, dropped and repeated receipts the verdict is the one linking every receipt in the
main process gives.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.verifier.signer import Signer, sample_ledger
from verifier import VerifyOptions, audit_ledger, cose
from verifier import verify as verify_module
from verifier.chain import ChainLinks
from verifier.encoding import split_sequence
from verifier.errors import VerificationFailure
from verifier.fast import batches
from verifier.fast.batches import BATCH, BatchResult

_LEDGER = sample_ledger(Signer.generate(), 90, chains=3)
_ITEMS = [item for _, item in split_sequence([_LEDGER])]
_RECEIPT_AT = [k for k, item in enumerate(_ITEMS) if cose.peek_content_type(item) == cose.RECEIPT]


class _Declining(ChainLinks):
    """A worker's links that never hold: every batch comes back receipt by receipt."""

    def link(self, index: int, chain: str, seq: int, prev: bytes, digest: bytes) -> None:
        raise VerificationFailure("declined", "linked in the main process")


def _verdict(data: bytes, **options: Any) -> tuple[bool, str | None, int | None, dict[str, int]]:
    report = audit_ledger([data], VerifyOptions(workers=1, **options))
    failure = report.failure
    return (report.valid, failure.code if failure else None,
            failure.position.item if failure and failure.position else None, report.chains)


def test_a_valid_ledger_comes_back_in_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not vacuous: every batch of a valid ledger is absorbed as runs (one per chain it holds,
    covering all its receipts)."""
    seen: list[BatchResult] = []
    real = verify_module._LedgerPass._absorb

    def recording(self: Any, batch: BatchResult) -> None:
        seen.append(batch)
        real(self, batch)

    monkeypatch.setattr(verify_module._LedgerPass, "_absorb", recording)
    data = sample_ledger(Signer.generate(), BATCH + 200, chains=3)
    assert _verdict(data)[0]
    assert len(seen) == 2
    assert all(b.runs is not None and b.summaries is None for b in seen)
    assert [len(b.runs or ()) for b in seen] == [3, 1]  # chains are written one after another
    assert all(sum(run[3] for run in b.runs or ()) == b.count for b in seen)
    monkeypatch.setattr(batches, "ChainLinks", _Declining)
    seen.clear()
    assert _verdict(data)[0]
    assert all(b.runs is None and b.summaries for b in seen)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_runs_give_the_verdict_of_linking_every_receipt(data: st.DataObject) -> None:
    items = list(_ITEMS)
    for _ in range(data.draw(st.integers(1, 2))):
        at = data.draw(st.sampled_from(_RECEIPT_AT))
        other = data.draw(st.sampled_from(_RECEIPT_AT))
        how = data.draw(st.sampled_from(["drop", "swap", "repeat", "move"]))
        if how == "drop":
            items[at] = b""
        elif how == "swap":
            items[at], items[other] = items[other], items[at]
        elif how == "repeat":
            items[other] = items[other] + items[at]
        else:
            items[other], items[at] = items[other] + items[at], b""
    tampered = b"".join(items)
    saved = []
    if data.draw(st.booleans()):  # with a saved checkpoint of the untampered ledger
        saved = [item for item in _ITEMS if cose.peek_content_type(item) == cose.CHECKPOINT]
    with_runs = _verdict(tampered, since=saved)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batches, "ChainLinks", _Declining)
        each = _verdict(tampered, since=saved)
    assert with_runs == each
