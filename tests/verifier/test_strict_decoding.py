"""Step 5, strict decoding (spec §3.2): bytes are accepted only as the deterministic encoding
of the value they decode to.

``decode_strict`` decodes with ``cbrrr`` (C) when it can and ``cbor2`` otherwise, then applies
the one rule: the bytes must equal ``encode`` of the value. These tests check the rule against
mutations, that both decoders give the same value where both decode (so which one ran never
matters), and that the C decoder really is the one that decodes receipts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cbor2
import cbrrr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier import VerifyOptions, audit_ledger
from verifier.encoding import decode_strict, encode
from verifier.errors import EncodingError
from verifier.keys import load_public_key_pem

from .strategies import texts, values

maps = st.dictionaries(texts, values, min_size=1, max_size=6)


def _cbor2_value(data: bytes) -> Any:
    return cbor2.loads(data, allow_indefinite=False, allow_duplicate_keys=False, max_depth=16)


@given(maps)
def test_deterministic_maps_decode_to_their_value(value: dict[str, Any]) -> None:
    data = encode(value)
    assert decode_strict(data) == value == _cbor2_value(data)


@settings(max_examples=400)
@given(maps, st.data())
def test_whatever_is_accepted_is_the_deterministic_encoding_of_its_value(
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
    try:
        decoded = decode_strict(bytes(raw))
    except EncodingError:
        return
    assert encode(decoded) == bytes(raw)
    assert _cbor2_value(bytes(raw)) == decoded  # the other decoder reads the same value


@given(st.dictionaries(texts, st.integers(min_value=0, max_value=2**32), min_size=2,
                       max_size=6))
def test_other_key_orders_are_refused(mapping: dict[str, int]) -> None:
    deterministic = encode(mapping)
    reordered = bytes(cbor2.dumps(dict(reversed(list(decode_strict(deterministic).items())))))
    if reordered != deterministic:
        with pytest.raises(EncodingError):
            decode_strict(reordered)


@pytest.mark.parametrize("bad", [
    b"\xa1\x61a\x18\x01",  # non-shortest integer
    b"\xa1\x61a\x58\x01\x00",  # non-shortest byte string length
    b"\xbf\x61a\x01\xff",  # indefinite map
    b"\xa2\x61a\x01\x61a\x02",  # duplicate key
    b"\xa2\x61b\x01\x61a\x01",  # unsorted keys
    b"\xa1\x61a\x01\x00",  # trailing byte
    b"\xa1\x61a\xf9\x3e\x00",  # half-precision float
    b"\xa1\x61a\xfb\x3f\xf0\x00\x00\x00\x00\x00\x00",  # 64-bit float (DAG-CBOR allows it)
    b"\xa1\x61a\xc2\x41\x01",  # tag 2 (bignum) for a small integer
    b"\xa1\x62\xed\xa0\x01",  # an encoded surrogate is not UTF-8
    b"\xa2\x03\x01\x01\x01",  # integer keys out of order
    b"\x81" * 17 + b"\x00",  # nested 17 deep
    b"\xa1\x61a" * 17 + b"\x00",  # maps nested 17 deep (cbrrr would decode them)
])
def test_known_non_deterministic_forms_are_refused(bad: bytes) -> None:
    with pytest.raises(EncodingError):
        decode_strict(bad)


def test_tag_42_decodes_only_as_a_tag_the_schema_refuses() -> None:
    """A DAG-CBOR link (tag 42) is not turned into bytes: the C decoder declines it."""
    value = decode_strict(b"\xa1\x61a\xd8\x2a\x42\x00\x01")
    assert value == {"a": cbor2.CBORTag(42, b"\x00\x01")}


def test_receipts_are_decoded_by_the_c_decoder(vectors: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Not vacuous: the fast decoder is the one that reads receipt payloads."""
    calls: list[bytes] = []
    real = cbrrr.decode_dag_cbor

    def counting(data: bytes, **kwargs: Any) -> Any:
        value = real(data, **kwargs)
        calls.append(data)
        return value

    monkeypatch.setattr(cbrrr, "decode_dag_cbor", counting)
    payload = (vectors / "receipt-payload.cbor").read_bytes()
    assert decode_strict(payload)["v"] == 1
    assert calls == [payload]


def test_a_signed_float_is_reported_as_an_encoding_fault(vectors: Path) -> None:
    key = load_public_key_pem(vectors / "test-key.pub.pem")
    data = (vectors / "invalid" / "float-in-payload.cbor").read_bytes()
    report = audit_ledger([data], VerifyOptions(trusted_keys=(key,), workers=1))
    assert report.failure is not None
    assert report.failure.code == "non_deterministic_encoding"
