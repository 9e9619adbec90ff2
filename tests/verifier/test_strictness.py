"""Edge cases found in review: each must be refused with a precise failure."""

from __future__ import annotations

from pathlib import Path

import cbor2
import pytest

from tests.verifier.signer import Signer
from verifier import cose
from verifier.encoding import decode_strict, encode, split_sequence
from verifier.errors import EncodingError, SchemaError, VerificationFailure
from verifier.schema import check_fx_rate, check_receipt


def _first_receipt(vectors: Path) -> dict:  # type: ignore[type-arg]
    return decode_strict((vectors / "receipt-payload.cbor").read_bytes())


@pytest.mark.parametrize("label", [True, 1.0])
def test_protected_header_label_must_be_the_integer_1(label: object) -> None:
    signer = Signer(b"\x01" * 32)
    protected = bytes(cbor2.dumps({label: -8, 3: cose.RECEIPT, 4: signer.kid}))
    payload = encode({"v": 1})
    item = cose.assemble(protected, payload, bytes(64))
    with pytest.raises(VerificationFailure) as caught:
        cose.parse(item)
    assert caught.value.code == "bad_protected_header"


def test_text_key_order_cache_never_vouches_for_other_key_types() -> None:
    decode_strict(encode({1: "a", 3: "b", 4: "c"}))
    unsorted = bytes(cbor2.dumps({True: "a", 3: "b", 4: "c"}))
    with pytest.raises(EncodingError):
        decode_strict(unsorted)


@pytest.mark.parametrize(("field", "value"), [("currency", "USD\n"), ("currency", "usd"),
                                              ("issued_at", 253_402_300_800_000)])
def test_receipt_fields_are_strict(vectors: Path, field: str, value: object) -> None:
    payload = {**_first_receipt(vectors), field: value}
    with pytest.raises(SchemaError, match=field):
        check_receipt(payload)


@pytest.mark.parametrize("date", ["2025-13-45", "2025-12-01\n", "２０２５-12-01"])
def test_fx_dates_are_real_ascii_dates(date: str) -> None:
    rate = {"v": 1, "base": "USD", "quote": "GBP", "date": date, "rate": 1, "source": "x",
            "published_at": 0}
    with pytest.raises(SchemaError, match="date"):
        check_fx_rate(rate)


def test_an_item_claiming_a_huge_length_is_malformed_not_buffered() -> None:
    item = b"\xd2\x84\x5b" + (2**40).to_bytes(8, "big") + b"\x00" * 100
    with pytest.raises(EncodingError, match="16 MiB"):
        list(split_sequence([item]))
