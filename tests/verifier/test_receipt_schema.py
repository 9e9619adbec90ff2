"""Step 6 (spec §9.2): a receipt payload's fields (§6.1, §6.2), and the order faults are named.

``check_receipt`` compares the number of keys, not the keys, then reads every required field:
these tests hold its outcome and message to the plain statement of the rule.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.verifier.signer import BOOK, RATE, Signer, sample_ledger
from verifier import cose
from verifier.encoding import decode_strict, encode, split_sequence
from verifier.errors import SchemaError, VerificationFailure
from verifier.keys import PublicKey
from verifier.pricing import PriceBook
from verifier.schema import (
    RECEIPT_OPTIONAL,
    RECEIPT_REQUIRED,
    _check_receipt_fields,
    _optional_fields,
    check_receipt,
    exact_keys,
)
from verifier.steps import ReceiptContext, check_receipt_item

_SIGNER = Signer.generate()
_RECEIPTS = [item for _, item in split_sequence([sample_ledger(_SIGNER, 40)])
             if cose.peek_content_type(item) == cose.RECEIPT]
_FIELD_VALUES = st.one_of(st.none(), st.integers(-3, 2**64 - 1), st.text(max_size=3),
                          st.binary(max_size=33), st.just(""), st.just({}),
                          st.dictionaries(st.text(max_size=2), st.integers(0, 9), max_size=2))


def _payload(k: int = 0) -> dict[str, Any]:
    payload: dict[str, Any] = decode_strict(cose.parse(_RECEIPTS[k]).payload)
    return payload


def _plain_receipt_rules(payload: Any) -> None:
    """check_receipt as the rules read: the key set first, then each field."""
    exact_keys(payload, RECEIPT_REQUIRED, RECEIPT_OPTIONAL, "receipt")
    _check_receipt_fields(payload)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_counting_keys_gives_the_outcome_of_comparing_them(data: st.DataObject) -> None:
    payload = _payload(data.draw(st.integers(0, len(_RECEIPTS) - 1)))
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


def test_a_map_where_pricing_status_belongs_is_a_schema_violation() -> None:
    payload = _payload()
    payload["pricing_status"] = {}
    with pytest.raises(SchemaError, match="pricing_status"):
        check_receipt(payload)


def test_optional_fields_counts_exactly_the_optional_fields() -> None:
    assert _optional_fields(dict.fromkeys(RECEIPT_OPTIONAL, 1)) == len(RECEIPT_OPTIONAL)
    assert _optional_fields(dict.fromkeys(RECEIPT_REQUIRED | {"extra"}, 1)) == 0


def test_a_missing_field_is_reported_before_a_wrong_one_even_when_the_count_matches() -> None:
    payload = _payload()
    del payload["status"]
    payload["extra"] = "x"  # as many keys as a receipt has
    payload["chain"] = 7  # read before status
    with pytest.raises(SchemaError, match=r"missing field.*status"):
        check_receipt(payload)


def test_any_required_field_swapped_for_another_key_is_missing() -> None:
    for name in sorted(RECEIPT_REQUIRED - {"v"}):
        payload = _payload()
        del payload[name]
        payload["extra"] = "x"
        with pytest.raises(SchemaError, match=rf"missing field.*{name}"):
            check_receipt(payload)


def test_a_signed_receipt_with_currency_swapped_out_is_a_schema_violation() -> None:
    payload = _payload()
    del payload["currency"]
    payload["extra"] = "x"
    item = _SIGNER.sign(cose.RECEIPT, payload)
    book = PriceBook.from_payload(BOOK, encode(BOOK))
    ctx = ReceiptContext({_SIGNER.kid: PublicKey(_SIGNER.public_key)}, {book.id: book}, [RATE],
                         "GBP")
    assert check_receipt_item(ctx, _RECEIPTS[0])[1]  # the context verifies a valid receipt
    with pytest.raises(VerificationFailure, match="currency") as failure:
        check_receipt_item(ctx, item)
    assert failure.value.code == "schema_violation"



@pytest.mark.parametrize("value", [
    {"sha256": bytes(32)}, {"sha256": bytes(31), "line": 1}, {"sha256": bytes(32), "line": 0},
    {"sha256": "00" * 32, "line": 1}, {"sha256": bytes(32), "line": True},
    {"sha256": bytes(32), "line": 1, "extra": 1}, [bytes(32), 1]])
def test_a_malformed_imported_field_is_a_schema_violation(value: Any) -> None:
    payload = _payload()
    payload["imported"] = value
    with pytest.raises(SchemaError, match="imported"):
        check_receipt(payload)


def test_a_well_formed_imported_field_passes() -> None:
    payload = _payload()
    payload["imported"] = {"sha256": bytes(range(32)), "line": 12}
    check_receipt(payload)
