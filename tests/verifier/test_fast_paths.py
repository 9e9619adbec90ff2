"""The verifier's fast paths accept nothing their plain definitions refuse.

The fast receipt decoder (cbrrr) never accepts what the strict decoder refuses:
``decode_text_map_fast`` may decline anything (the verifier then falls back to
``decode_strict``), but whatever it accepts without a float in it must be exactly what the strict
decoder returns for the same bytes: that is the whole argument for using it (encoding.py).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receipts.deployment.signing_key import Signer
from tests.conftest import sample_ledger
from verifier import VerifyOptions, audit_ledger, cose
from verifier import verify as verify_module
from verifier.encoding import (
    SequenceReader,
    _Incomplete,
    decode_strict,
    decode_text_map_fast,
    encode,
    item_end,
    split_sequence,
    usual_prefix,
)
from verifier.errors import EncodingError, VerificationFailure
from verifier.keys import load_public_key_pem

from .strategies import texts, values

maps = st.dictionaries(texts, values, min_size=1, max_size=6)


def _has_float(value: Any) -> bool:
    if type(value) is float:
        return True
    if type(value) is dict:
        return any(_has_float(v) for v in value.values())
    if type(value) in (list, tuple):
        return any(_has_float(v) for v in value)
    return False


def _agrees_with_strict(data: bytes) -> None:
    fast = decode_text_map_fast(data)
    if fast is None or _has_float(fast):
        return  # declined, or left to the schema check + strict decoder (see _check_content)
    try:
        strict = decode_strict(data)
    except EncodingError as e:
        raise AssertionError(f"fast decoder accepted {data.hex()} that strict refuses: {e}") from e
    assert strict == fast
    assert encode(fast) == data


@given(maps)
def test_deterministic_maps_decode_the_same_both_ways(value: dict[str, Any]) -> None:
    data = encode(value)
    assert decode_text_map_fast(data) == decode_strict(data) == value


@settings(max_examples=400)
@given(maps, st.data())
def test_any_mutation_the_fast_decoder_accepts_is_strictly_valid(
    value: dict[str, Any], data: st.DataObject
) -> None:
    raw = bytearray(encode(value))
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(raw)), st.integers(0, 255),
                                         st.sampled_from(["set", "insert", "delete"])),
                               min_size=1, max_size=3))
    for at, byte, how in edits:
        at = min(at, len(raw) - 1) if raw else 0
        if how == "set" and raw:
            raw[at] = byte
        elif how == "insert":
            raw.insert(at, byte)
        elif raw:
            del raw[at]
    _agrees_with_strict(bytes(raw))


@given(st.dictionaries(texts, st.integers(min_value=0, max_value=2**32), min_size=2,
                       max_size=6))
def test_other_key_orders_are_declined(mapping: dict[str, int]) -> None:
    deterministic = encode(mapping)
    reordered = bytes(cbor2.dumps(dict(reversed(list(decode_strict(deterministic).items())))))
    if reordered != deterministic:
        assert decode_text_map_fast(reordered) is None


def test_known_non_deterministic_forms_are_declined() -> None:
    for bad in (
        b"\xa1\x61a\x18\x01",  # non-shortest integer
        b"\xa1\x61a\x58\x01\x00",  # non-shortest byte string length
        b"\xbf\x61a\x01\xff",  # indefinite map
        b"\xa2\x61a\x01\x61a\x02",  # duplicate key
        b"\xa2\x61b\x01\x61a\x01",  # unsorted keys
        b"\xa1\x61a\x01\x00",  # trailing byte
        b"\xa1\x61a\xf9\x3e\x00",  # half-precision float
        b"\xa1\x61a\xd8\x2a\x42\x00\x01",  # tag 42 (a DAG-CBOR link)
        b"\xa1\x61a\xc2\x41\x01",  # tag 2 (bignum)
        b"\xa1\x62\xed\xa0\x01",  # an encoded surrogate is not UTF-8
        b"\xa1\x01\x01",  # integer key
        b"\x80",  # not a map
    ):
        assert decode_text_map_fast(bad) is None, bad.hex()


def test_a_signed_float_is_reported_as_an_encoding_fault(vectors: Path) -> None:
    """A 64-bit float passes the fast decoder; the verifier must still name the encoding fault."""
    key = load_public_key_pem(vectors / "test-key.pub.pem")
    data = (vectors / "invalid" / "float-in-payload.cbor").read_bytes()
    report = audit_ledger([data], VerifyOptions(trusted_keys=(key,), workers=1))
    assert report.failure is not None
    assert report.failure.code == "non_deterministic_encoding"


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
    """Framing by the general rule only (item_end), as the reference for split_sequence."""
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
    """The valid vector ledger, maybe with one byte changed, and the same bytes cut into up to
    seven chunks anywhere."""
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
def test_framing_fast_path_splits_like_the_general_rule(vectors: Path, data: st.DataObject
                                                        ) -> None:
    ledger_bytes, chunks = _altered_ledger_in_chunks(vectors, data)
    try:
        framed: list[bytes] | str = [item for _, item in split_sequence(chunks)]
    except EncodingError:
        framed = "error"
    assert framed == _frame_plainly(ledger_bytes)


@settings(max_examples=200)
@given(st.data())
def test_framing_in_runs_splits_like_the_general_rule(vectors: Path, data: st.DataObject
                                                      ) -> None:
    """SequenceReader.take_run (receipts a run at a time) and next_item together frame exactly
    as the general rule, wherever chunks are cut and whatever byte is changed."""
    ledger_bytes, chunks = _altered_ledger_in_chunks(vectors, data)
    reader = SequenceReader(chunks)
    prefixes: set[bytes] = set()
    limit = data.draw(st.integers(1, 5))
    framed: list[bytes] | str = []
    try:
        while True:
            offset, ends = reader.take_run(prefixes, limit)
            if ends:
                run = reader.recent(offset, ends[-1])
                assert ledger_bytes[offset : offset + ends[-1]] == run
                framed += [run[a:b] for a, b in zip([0, *ends], ends, strict=False)]
                continue
            item = reader.next_item()
            if item is None:
                break
            assert ledger_bytes[item[0] : item[0] + len(item[1])] == item[1]
            framed.append(item[1])
            prefix = usual_prefix(item[1])
            if prefix is not None and data.draw(st.booleans()):
                prefixes.add(prefix)
    except EncodingError:
        framed = "error"
    assert framed == _frame_plainly(ledger_bytes)


_SIGNER = Signer.generate()
_LEDGER = sample_ledger(_SIGNER, 40, chains=1)
_RECEIPTS = [item for _, item in split_sequence([_LEDGER])
             if cose.peek_content_type(item) == cose.RECEIPT]


def _worker_context() -> Any:
    """The context a worker gets for _LEDGER (set up by an in-process run)."""
    assert audit_ledger([_LEDGER], VerifyOptions(workers=1)).valid
    return verify_module._CTX


_FIELD_VALUES = st.one_of(st.none(), st.integers(-3, 2**64 - 1), st.text(max_size=3),
                          st.binary(max_size=33), st.just(""), st.just({}),
                          st.dictionaries(st.text(max_size=2), st.integers(0, 9), max_size=2))


def _outcome(check: Any) -> tuple[str, Any]:
    try:
        return "ok", check()
    except VerificationFailure as e:
        return "fail", e.code


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_usual_receipt_path_accepts_only_what_the_general_steps_accept(
        data: st.DataObject) -> None:
    """_check_usual (the hot path) may decline anything, but when it answers (a payload or a
    failure) the general steps (_check_one) give the same answer for the same receipt."""
    ctx = _worker_context()
    item = data.draw(st.sampled_from(_RECEIPTS))
    env = cose.parse(item)
    payload = decode_strict(env.payload)
    change = data.draw(st.sampled_from(["none", "field", "drop", "add", "swap", "byte",
                                        "vouched", "float-rate"]))
    if change == "float-rate" and payload["fx"] is not None:
        # fx.rate as a float equal to the rate: equal in Python, never valid (the hot path
        # leaves fx to an equality test, so it must still check the rate's type)
        raw = encode(payload)
        needle = b"\x64rate" + encode(payload["fx"]["rate"])
        item = _SIGNER.sign_payload_bytes(cose.RECEIPT, raw.replace(
            needle, b"\x64rate\xfb" + struct.pack(">d", payload["fx"]["rate"])))
    elif change == "vouched":  # the fields pricing vouches for on the hot path
        where, value = data.draw(st.sampled_from([
            ("currency", st.sampled_from(["USD", "GBP", "usd", "", "USDX"]) | _FIELD_VALUES),
            ("pricing_status", st.sampled_from(["priced", "unknown_model", "bogus"])
             | _FIELD_VALUES),
            ("fx.currency", st.sampled_from(["GBP", "USD", "gbp"]) | _FIELD_VALUES),
            ("fx.date", st.sampled_from(["2025-11-30", "2025-11-31", "2025-13-01"])
             | _FIELD_VALUES),
            ("fx.source", st.sampled_from(["test-fixed", ""]) | _FIELD_VALUES),
            ("fx.rate", st.sampled_from([790_000_000, 10**9, 1]) | _FIELD_VALUES),
            ("fx.extra", st.just("x")),
            ("fx-", st.sampled_from(["currency", "rate", "date", "source"]))]))
        if where.startswith("fx"):
            if payload["fx"] is None:
                return
            if where == "fx-":
                payload["fx"] = {k: v for k, v in payload["fx"].items() if k != data.draw(value)}
            else:
                payload["fx"] = {**payload["fx"], where[3:]: data.draw(value)}
        else:
            payload[where] = data.draw(value)
        try:
            item = _SIGNER.sign(cose.RECEIPT, payload)
        except EncodingError:
            return
    elif change == "byte":
        altered = bytearray(item)
        altered[data.draw(st.integers(0, len(item) - 1))] ^= data.draw(st.integers(1, 255))
        item = bytes(altered)
    elif change in ("field", "drop", "add", "swap"):
        key = data.draw(st.sampled_from(sorted(payload)))
        if change == "field":
            payload[key] = data.draw(_FIELD_VALUES)
        elif change in ("drop", "swap"):
            del payload[key]
        if change in ("add", "swap"):  # swap: one field for another, as many keys as before
            payload[data.draw(st.sampled_from(["retry_of", "extra", "started_at"]))] = \
                data.draw(_FIELD_VALUES)
        try:
            item = _SIGNER.sign(cose.RECEIPT, payload)
        except EncodingError:
            return
    if data.draw(st.booleans()):  # a receipt before it: the hot path remembers its prefix
        verify_module._check_usual(ctx, data.draw(st.sampled_from(_RECEIPTS)))
    fast = _outcome(lambda: verify_module._check_usual(ctx, item))
    if fast == ("ok", None):
        return  # declined: the general steps decide alone
    general = _outcome(lambda: verify_module._check_one(ctx, item)[0])
    assert fast == general


def test_a_map_where_pricing_status_belongs_is_a_schema_violation() -> None:
    """Found by the property test above: an unhashable status crashed the schema check."""
    from verifier.errors import SchemaError
    from verifier.schema import check_receipt

    payload = decode_strict(cose.parse(_RECEIPTS[0]).payload)
    payload["pricing_status"] = {}
    with pytest.raises(SchemaError, match="pricing_status"):
        check_receipt(payload)


def _plain_receipt_rules(payload: Any) -> None:
    """check_receipt as the rules read: the key set first, then each field."""
    from verifier.schema import (
        RECEIPT_OPTIONAL,
        RECEIPT_REQUIRED,
        _check_receipt_fields,
        _exact_keys,
    )

    _exact_keys(payload, RECEIPT_REQUIRED, RECEIPT_OPTIONAL, "receipt")
    _check_receipt_fields(payload, True)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_check_receipt_counts_keys_instead_of_comparing_them_with_the_same_outcome(
        data: st.DataObject) -> None:
    """check_receipt compares the number of keys, not the keys, then reads every required
    field; its outcome (and message) is the plain rule's for dropped, added, repeated-count and
    retyped fields."""
    from verifier.errors import SchemaError
    from verifier.schema import check_receipt

    payload: dict[str, Any] = decode_strict(cose.parse(data.draw(st.sampled_from(_RECEIPTS)))
                                            .payload)
    for _ in range(data.draw(st.integers(1, 3))):
        change = data.draw(st.sampled_from(["field", "drop", "add"]))
        if change == "field":
            payload[data.draw(st.sampled_from(sorted(payload)))] = data.draw(_FIELD_VALUES)
        elif change == "drop" and payload:
            del payload[data.draw(st.sampled_from(sorted(payload)))]
        else:
            name = data.draw(st.sampled_from(["retry_of", "usage_detail", "service_tier",
                                              "started_at", "extra", "v"]))
            payload[name] = data.draw(_FIELD_VALUES | st.just("r-1") | st.just(5))

    def outcome(check: Any) -> tuple[str, str]:
        try:
            check(payload)
        except SchemaError as e:
            return "fail", str(e)
        return "ok", ""

    assert outcome(check_receipt) == outcome(_plain_receipt_rules)


def test_optional_fields_counts_exactly_the_optional_fields() -> None:
    from verifier.schema import RECEIPT_OPTIONAL, RECEIPT_REQUIRED, _optional_fields

    assert _optional_fields(dict.fromkeys(RECEIPT_OPTIONAL, 1)) == len(RECEIPT_OPTIONAL)
    assert _optional_fields(dict.fromkeys(RECEIPT_REQUIRED | {"extra"}, 1)) == 0


def test_a_missing_field_is_reported_before_a_wrong_one_even_when_the_count_matches() -> None:
    from verifier.errors import SchemaError
    from verifier.schema import check_receipt

    payload = decode_strict(cose.parse(_RECEIPTS[0]).payload)
    del payload["status"]
    payload["extra"] = "x"  # as many keys as a receipt has
    payload["chain"] = 7  # read before status
    with pytest.raises(SchemaError, match=r"missing field.*status"):
        check_receipt(payload)


@pytest.mark.parametrize("vouched", [True, False])
def test_any_required_field_swapped_for_another_key_is_missing_on_both_paths(
        vouched: bool) -> None:
    """Found by fuzzing signed payloads: with ``currency`` swapped for an unknown key (the key
    count unchanged), the hot path's schema check did not read ``currency`` and pricing then
    raised KeyError. Every required field is read on both paths."""
    from verifier.errors import SchemaError
    from verifier.schema import RECEIPT_REQUIRED, check_receipt

    for name in sorted(RECEIPT_REQUIRED - {"v"}):
        payload = decode_strict(cose.parse(_RECEIPTS[0]).payload)
        del payload[name]
        payload["extra"] = "x"
        with pytest.raises(SchemaError, match=rf"missing field.*{name}"):
            check_receipt(payload, vouched_by_pricing=vouched)


def test_a_signed_receipt_with_currency_swapped_out_is_a_schema_violation() -> None:
    payload = decode_strict(cose.parse(_RECEIPTS[0]).payload)
    del payload["currency"]
    payload["extra"] = "x"
    item = _SIGNER.sign(cose.RECEIPT, payload)
    ctx = _worker_context()
    assert verify_module._check_usual(ctx, item) is None  # declined: the general steps name it
    with pytest.raises(VerificationFailure, match="currency") as failure:
        verify_module._check_one(ctx, item)
    assert failure.value.code == "schema_violation"
