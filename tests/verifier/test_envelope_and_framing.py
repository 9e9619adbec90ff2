"""Steps 1 and 3 (spec §9.2): framing a CBOR sequence, and the exact COSE_Sign1 layout.

Framing has one rule (``item_end``); the main process also frames runs of receipts in one step
(``verifier.fast.runs``), which must split the bytes exactly as the rule does, wherever the
input is cut into chunks and whatever byte is changed, and must really frame receipts.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.verifier.signer import Signer, sample_ledger
from verifier import cose
from verifier.encoding import _Incomplete, item_end, split_sequence
from verifier.errors import EncodingError, VerificationFailure
from verifier.fast.runs import RunReader, usual_prefix


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=40), st.binary(min_size=250, max_size=700)), st.data())
def test_cose_parse_accepts_only_what_assemble_writes(payload: bytes, data: st.DataObject) -> None:
    """cose.parse checks heads and trailing bytes instead of re-assembling: same verdict."""
    protected = cose.protected_header(cose.RECEIPT, bytes(16))
    item = bytearray(cose.assemble(protected, payload, bytes(64)))
    at = data.draw(st.integers(0, len(item)))
    how = data.draw(st.sampled_from(["set", "insert", "delete", "widen"]))
    byte = data.draw(st.integers(0, 255))
    if how == "set" and at < len(item):
        item[at] = byte
    elif how == "insert":
        item.insert(at, byte)
    elif how == "delete" and at < len(item):
        del item[at]
    elif how == "widen":  # the payload's length head, re-written one size longer
        item = bytearray(cose.assemble(protected, b"", bytes(64)))
        head = 3 + len(protected) + 1
        item[head:head + 1] = b"\x58\x00"
    try:
        env = cose.parse(bytes(item))
    except VerificationFailure:
        return
    assert bytes(item) == cose.assemble(env.protected, env.payload, env.signature)


def _frame_plainly(data: bytes) -> list[bytes] | str:
    """Framing by the rule alone (item_end) on the whole input at once."""
    items, pos = [], 0
    try:
        while pos < len(data):
            stop = item_end(data, pos, len(data))
            items.append(data[pos:stop])
            pos = stop
    except (EncodingError, _Incomplete):  # _Incomplete: the data ends inside an item
        return "error"
    return items


def _altered_ledger_in_chunks(vectors: Path, data: st.DataObject) -> tuple[bytes, list[bytes]]:
    """The valid vector ledger, maybe with one byte changed, cut into up to seven chunks."""
    ledger = bytearray((vectors / "valid" / "ledger.cbor").read_bytes())
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(ledger) - 1))
        ledger[at] = data.draw(st.integers(0, 255))
    ledger_bytes = bytes(ledger)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(ledger_bytes)), max_size=6)))
    return ledger_bytes, [ledger_bytes[a:b] for a, b in zip([0, *cuts],
                                                            [*cuts, len(ledger_bytes)],
                                                            strict=True)]


@settings(max_examples=200)
@given(st.data())
def test_reading_in_chunks_frames_as_the_rule(vectors: Path, data: st.DataObject) -> None:
    ledger_bytes, chunks = _altered_ledger_in_chunks(vectors, data)
    try:
        framed: list[bytes] | str = [item for _, item in split_sequence(chunks)]
    except EncodingError:
        framed = "error"
    assert framed == _frame_plainly(ledger_bytes)


def _frame_with_runs(reader: RunReader, ledger: bytes, limit: int,
                     learn: st.DataObject | None) -> tuple[list[bytes], int]:
    """Frame with take_run where it can, next_item elsewhere; (items, how many came in runs)."""
    prefixes: set[bytes] = set()
    framed: list[bytes] = []
    in_runs = 0
    while True:
        offset, ends = reader.take_run(prefixes, limit)
        if ends:
            run = reader.recent(offset, ends[-1])
            assert ledger[offset : offset + ends[-1]] == run
            framed += [run[a:b] for a, b in zip([0, *ends], ends, strict=False)]
            in_runs += len(ends)
            continue
        item = reader.next_item()
        if item is None:
            return framed, in_runs
        assert ledger[item[0] : item[0] + len(item[1])] == item[1]
        framed.append(item[1])
        prefix = usual_prefix(item[1])
        if prefix is not None and cose.peek_content_type(item[1]) == cose.RECEIPT \
                and (learn is None or learn.draw(st.booleans())):
            prefixes.add(prefix)


@settings(max_examples=200)
@given(st.data())
def test_framing_runs_of_receipts_splits_as_the_rule(vectors: Path, data: st.DataObject
                                                     ) -> None:
    ledger_bytes, chunks = _altered_ledger_in_chunks(vectors, data)
    framed: list[bytes] | str
    try:
        framed, _ = _frame_with_runs(RunReader(chunks), ledger_bytes,
                                     data.draw(st.integers(1, 5)), data)
    except EncodingError:
        framed = "error"
    assert framed == _frame_plainly(ledger_bytes)


def test_runs_frame_nearly_every_receipt_of_a_ledger() -> None:
    """Not vacuous: on a real ledger all receipts but the first of each run come in runs."""
    ledger = sample_ledger(Signer.generate(), 300, chains=2)
    chunks = [ledger[k : k + 65536] for k in range(0, len(ledger), 65536)]
    framed, in_runs = _frame_with_runs(RunReader(chunks), ledger, 1024, None)
    assert framed == _frame_plainly(ledger)
    assert in_runs >= 300 - 2 * len(chunks)
