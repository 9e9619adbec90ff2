"""spec/receipt.cddl validates real ledgers in a stock CDDL tool (pycddl 0.6.4), and refuses
what CDDL can see: wrong types, missing or extra fields, broken shapes.

Every vector is checked: the receipt payload, the price book, the receipt item, every item of
the valid ledgers (each payload against the rule of its content type) and every item of the
invalid ledgers, where exactly the defects CDDL can see are refused. An exported ledger is
checked in tests/receipts/storage/test_cddl_export.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cbor2
import pytest

from tests.spec.cddl import (
    KINDS,
    RECEIPT_SHAPES,
    item_problem,
    items,
    kinds,
    ledger_problems,
    payload_problem,
    problem,
)

VECTORS = Path(__file__).resolve().parents[2] / "spec" / "vectors"


def _dumps(value: Any) -> bytes:
    return cbor2.dumps(value, canonical=True)


def _receipt() -> dict[str, Any]:
    payload: dict[str, Any] = cbor2.loads((VECTORS / "receipt-payload.cbor").read_bytes())
    return payload


@pytest.mark.parametrize("rule", [*KINDS, *(f"{k}-protected" for k in KINDS), *RECEIPT_SHAPES,
                                  "signed-item", "ledger-item", "protected-header",
                                  "Sig_structure", "ledger"])
def test_every_rule_compiles_in_the_tool(rule: str) -> None:
    assert problem(rule, _dumps(0)) is not None  # compiles, and 0 is none of them


def test_the_receipt_and_price_book_vectors_match_their_rules() -> None:
    assert payload_problem("receipt", (VECTORS / "receipt-payload.cbor").read_bytes()) is None
    assert problem("price-book", (VECTORS / "price-book.cbor").read_bytes()) is None
    ((item, value),) = items((VECTORS / "receipt.cose").read_bytes())
    assert item_problem(item, value) is None


VALID = ["ledger.cbor", "rotated-keys.cbor", "optional-fields.cbor", "allocations.cbor"]


@pytest.mark.parametrize("name", VALID)
def test_every_item_of_the_valid_ledgers_matches_the_rule_of_its_content_type(name: str) -> None:
    ledger = (VECTORS / "valid" / name).read_bytes()
    assert ledger_problems(ledger) == {}
    assert set(KINDS) - set(kinds(ledger)) <= {"allocation-set"}  # optional: only one has it


def test_the_valid_vectors_exercise_every_payload_rule() -> None:
    found = {kind for name in VALID for kind in kinds((VECTORS / "valid" / name).read_bytes())}
    assert found == set(KINDS)


CDDL_VISIBLE = {
    "float-in-payload.cbor": {7: "receipt"},            # runtime_ms 101.0: not a uint
    "payload-byte-changed.cbor": {4: "receipt"},        # pricing_status "pricee"
    "protected-header-changed.cbor": {4: "protected"},  # content type "...seceipt+cbor"
    "trailing-bytes.cbor": {12: "envelope"},            # an item that is no COSE_Sign1
}
"""The invalid vectors whose defect CDDL can see, item index -> the part refused. The others
break rules CDDL cannot state (signatures, hashes, encodings, prices, order, uniqueness)."""
NOT_A_SEQUENCE = {"cut-mid-item.cbor", "garbage.cbor", "json-file.cbor"}


@pytest.mark.parametrize("path", sorted((VECTORS / "invalid").glob("*.cbor")),
                         ids=lambda p: p.name)
def test_the_invalid_vectors_fail_exactly_where_cddl_can_see_the_defect(path: Path) -> None:
    data = path.read_bytes()
    if path.name in NOT_A_SEQUENCE:
        with pytest.raises(cbor2.CBORDecodeError):
            list(items(data))
        return
    found = {index: part for index, (part, _) in ledger_problems(data).items()}
    assert found == CDDL_VISIBLE.get(path.name, {})


RECEIPT_REQUIRED = ("v", "chain", "seq", "prev", "id", "issued_at", "request_id", "provider",
                    "model", "model_requested", "agent", "tags", "usage", "unit_prices",
                    "price_book", "currency", "cost", "pricing_status", "fx", "cost_reporting",
                    "runtime_ms", "status")


@pytest.mark.parametrize("name", RECEIPT_REQUIRED)
def test_a_receipt_without_a_required_field_fails(name: str) -> None:
    receipt = _receipt()
    del receipt[name]
    assert payload_problem("receipt", _dumps(receipt)) is not None


WRONG: list[tuple[str, Any]] = [
    ("v", 2), ("seq", "0"), ("seq", -1), ("prev", bytes(31)), ("price_book", "00" * 32),
    ("id", ""), ("id", "x" * 1025), ("issued_at", 253_402_300_800_000), ("runtime_ms", 1.5),
    ("cost", -1), ("cost", 1.0), ("cost", None), ("cost_reporting", "1"), ("currency", "usd"),
    ("currency", "USDX"), ("currency", "XUSD"), ("currency", "US"), ("tags", {"team": 5}),
    ("tags", {"team": "x" * 1025}), ("tags", ["team"]), ("usage", {"input": -1}),
    ("usage", {"input": "1"}), ("unit_prices", {"input": "1"}), ("pricing_status", "free"),
    ("fx", {}), ("status", ""), ("retry_of", ""), ("retry_of", 7), ("service_tier", "x" * 129),
    ("started_at", -5), ("usage_detail", {"reasoning": None}), ("provider_response_id", ""),
    ("provider_response_id", "x" * 1025), ("provider_response_id", 7),
    ("imported", {"sha256": bytes(32)}), ("imported", {"sha256": bytes(31), "line": 1}),
    ("imported", {"sha256": bytes(32), "line": 0}), ("imported", {"sha256": "00", "line": 1}),
    ("imported", {"sha256": bytes(32), "line": 1, "extra": 1}), ("extra", 1),
]


@pytest.mark.parametrize(("name", "value"), WRONG, ids=[f"{n}={v!r}"[:40] for n, v in WRONG])
def test_a_receipt_with_a_wrong_type_or_an_unknown_field_fails(name: str, value: Any) -> None:
    receipt = _receipt()
    receipt[name] = value
    assert payload_problem("receipt", _dumps(receipt)) is not None


@pytest.mark.parametrize(("field", "value"), [
    ("date", "2025-12-1"), ("date", "2025-12-011"), ("date", "x2025-12-01"),
    ("currency", "gbp"), ("currency", "GBPX"), ("rate", -1), ("source", ""), ("extra", 1)])
def test_a_receipt_with_a_malformed_fx_fails(field: str, value: Any) -> None:
    receipt = _receipt()
    receipt["fx"][field] = value
    assert payload_problem("receipt", _dumps(receipt)) is not None


def test_the_three_pricing_shapes_pass_and_their_mixtures_fail() -> None:
    priced = _receipt()
    without_fx = {**priced, "fx": None, "cost_reporting": None}
    unpriced = {**priced, "pricing_status": "unknown_model", "unit_prices": {}, "cost": None,
                "cost_reporting": None}
    options = {**priced, "retry_of": "r-0000", "service_tier": "flex", "started_at": 1,
               "provider_response_id": "chatcmpl-1",
               "imported": {"sha256": bytes(32), "line": 7},
               "usage_detail": {"reasoning": 3}, "tags": {"empty": ""}}
    for good in (priced, without_fx, unpriced, {**unpriced, "fx": None}, options):
        assert payload_problem("receipt", _dumps(good)) is None
    for bad in ({**priced, "cost_reporting": None},       # fx without a reporting cost
                {**without_fx, "cost_reporting": 5},      # a reporting cost without fx
                {**unpriced, "unit_prices": {"input": 1}},
                {**unpriced, "cost": 0},
                {**unpriced, "cost_reporting": 0},
                {**priced, "pricing_status": "not_metered"}):
        assert payload_problem("receipt", _dumps(bad)) is not None


def _payloads(kind: str) -> list[dict[str, Any]]:
    ledger = (VECTORS / "valid" / "ledger.cbor").read_bytes()
    found = [cbor2.loads(v.value[2]) for _, v in items(ledger)
             if cbor2.loads(v.value[0])[3] == f"application/vnd.receipts.{kind}+cbor"]
    assert found
    return found


@pytest.mark.parametrize(("kind", "change"), [
    ("ledger-header", lambda p: p.pop("preamble")),
    ("ledger-header", lambda p: p["counts"].pop("keys")),
    ("ledger-header", lambda p: p.update(chains=["c0", ""])),
    ("ledger-header", lambda p: p.update(format="other")),
    ("public-key", lambda p: p.update(public_key=bytes(31))),
    ("public-key", lambda p: p.update(kid=bytes(32))),
    ("public-key", lambda p: p.update(valid_until="never")),
    ("price-book", lambda p: p.pop("models")),
    ("price-book", lambda p: p["models"][0].update(metered="yes")),
    ("price-book", lambda p: p["models"][0]["prices"].update(input=-1)),
    ("price-book", lambda p: p["models"][0]["prices"].update(input={"base": 1, "tiers": []})),
    ("price-book", lambda p: p["models"][0]["prices"].update(input={"base": 1})),
    ("fx-rate", lambda p: p.update(rate=0)),
    ("fx-rate", lambda p: p.update(quote="gbp")),
    ("checkpoint", lambda p: p.update(head=bytes(31))),
    ("checkpoint", lambda p: p.pop("size")),
])
def test_other_payloads_with_a_missing_field_or_a_wrong_type_fail(kind: str, change: Any) -> None:
    payload = _payloads(kind)[0]
    assert problem(kind, _dumps(payload)) is None
    change(payload)
    assert problem(kind, _dumps(payload)) is not None


def test_an_envelope_with_a_header_in_the_unprotected_map_or_a_short_signature_fails() -> None:
    ((_, value),) = items((VECTORS / "receipt.cose").read_bytes())
    protected, unprotected, payload, signature = value.value
    assert unprotected == {}
    for bad in ([protected, {1: -8}, payload, signature], [protected, {"a": 1}, payload, signature],
                [protected, {}, payload, signature[:63]], [protected, {}, payload]):
        assert problem("signed-item", _dumps(cbor2.CBORTag(18, bad))) is not None
    assert problem("signed-item", _dumps(cbor2.CBORTag(17, value.value))) is not None
