"""The invalid test vectors: the reference ledger with one defect each, and the failure code
and item index a verifier must report for it (spec §9.2, §10)."""

from __future__ import annotations

import json
import struct
from typing import Any

import cbor2
from reference import (
    ED25519_L,
    FIRST_RECEIPT,
    OTHER_SEED,
    T0,
    TEST_SEED,
    Parts,
    PayloadHook,
    build,
    rotated_keys,
)
from variants import ALLOCATION_SETS

from receipts.deployment.signing_key import Signer
from receipts.storage.ledger_file import fx_rate_item
from verifier import cose
from verifier.encoding import encode
from verifier.jsonview import receipt_json
from verifier.pricing import FxRate


def _flip(item: bytes, offset: int) -> bytes:
    return item[:offset] + bytes([item[offset] ^ 0x01]) + item[offset + 1 :]


def _replace(parts: Parts, index: int, item: bytes) -> bytes:
    items = parts.items()
    items[index] = item
    return b"".join(items)


def _malleate(item: bytes) -> bytes:
    """Add L to S: the same point equation holds for lax verifiers, strict ones refuse."""
    s = int.from_bytes(item[-32:], "little") + ED25519_L
    return item[:-32] + s.to_bytes(32, "little")


def _non_shortest(i: int, payload: dict[str, Any]) -> bytes:
    raw = encode(payload)
    if i != 1:
        return raw
    # Re-encode "seq": 0 as a one-byte-argument uint (0x18 0x00): well-formed, not deterministic.
    needle = b"\x63seq\x00"
    assert needle in raw
    return raw.replace(needle, b"\x63seq\x18\x00")


def _unsorted(i: int, payload: dict[str, Any]) -> bytes:
    raw = encode(payload)
    if i != 1:
        return raw
    return bytes(cbor2.dumps(dict(reversed(list(payload.items())))))


def _float_runtime(i: int, payload: dict[str, Any]) -> bytes:
    raw = encode(payload)
    if i != 1:
        return raw
    # "runtime_ms" as a 64-bit float: well-formed CBOR (and even valid DAG-CBOR), never ours.
    needle = b"\x6aruntime_ms" + encode(payload["runtime_ms"])
    assert needle in raw
    return raw.replace(needle, b"\x6aruntime_ms\xfb" + struct.pack(">d", payload["runtime_ms"]))


def _bump(field_name: str, receipt: int) -> PayloadHook:
    def hook(i: int, payload: dict[str, Any]) -> dict[str, Any]:
        if i == receipt:
            payload = {**payload, field_name: payload[field_name] + 1}
        return payload
    return hook


def _wrong_unit_price(i: int, payload: dict[str, Any]) -> dict[str, Any]:
    if i == 0:
        prices = {**payload["unit_prices"], "output": payload["unit_prices"]["output"] + 1}
        usage = payload["usage"]
        cost = sum(usage[k] * prices[k] for k in usage)
        payload = {**payload, "unit_prices": prices, "cost": cost}
    return payload


def _wrong_fx(i: int, payload: dict[str, Any]) -> dict[str, Any]:
    if i == 0:
        payload = {**payload, "fx": {**payload["fx"], "rate": 800_000_000}}
    return payload


def _duplicate_request(i: int, payload: dict[str, Any]) -> dict[str, Any]:
    if i == 2:  # same agent as receipt 0 ("agent-search"? no: make it so)
        payload = {**payload, "agent": "agent-search", "request_id": "req-0000"}
    return payload


def _hidden_as_unknown(i: int, payload: dict[str, Any]) -> dict[str, Any]:
    if i == 0:  # claim a known model could not be priced, to hide its spend
        payload = {**payload, "pricing_status": "unknown_model", "cost": None,
                   "unit_prices": {}, "cost_reporting": None}
    return payload


def invalid_vectors() -> dict[str, tuple[bytes, str, int, str | None]]:
    """name -> (ledger bytes, expected failure code, item index, key file to pin or None)."""
    base = build()
    r = FIRST_RECEIPT
    items = base.items()
    other = Signer(OTHER_SEED)
    out: dict[str, tuple[bytes, str, int, str | None]] = {}

    out["payload-byte-changed"] = (_replace(base, r, _flip(items[r], len(items[r]) - 90)),
                                   "bad_signature", r, None)
    out["signature-byte-changed"] = (_replace(base, r, _flip(items[r], len(items[r]) - 5)),
                                     "bad_signature", r, None)
    ctype_at = items[r].index(b"receipt+cbor")
    out["protected-header-changed"] = (_replace(base, r, _flip(items[r], ctype_at)),
                                       "bad_protected_header", r, None)
    kid_at = items[r].index(Signer(TEST_SEED).kid)
    out["protected-kid-changed"] = (_replace(base, r, _flip(items[r], kid_at + 3)),
                                    "untrusted_key", r, None)
    out["wrong-key"] = (base.ledger(), "untrusted_key", 0, "other-key.pub.pem")
    out["malleated-signature"] = (_replace(base, r, _malleate(items[r])),
                                  "non_canonical_signature", r, None)
    # Chain c0 holds receipts 0, 2, 4 (items r, r+1, r+2); c1 holds 1, 3, 5 (items r+3..r+5).
    deleted = items[: r + 1] + items[r + 2 :]
    out["receipt-deleted"] = (b"".join(deleted), "missing_receipt", r + 1, None)
    swapped = list(items)
    swapped[r + 1], swapped[r + 2] = swapped[r + 2], swapped[r + 1]
    out["receipts-swapped"] = (b"".join(swapped), "out_of_order", r + 1, None)
    duplicated = [*items[:r + 2], items[r + 1], *items[r + 2:]]
    out["receipt-duplicated"] = (b"".join(duplicated), "duplicate_receipt", r + 2, None)
    forked = build(_bump("runtime_ms", 0))  # the key holder signs a second receipt at seq 0
    inserted = [*items[:r], forked.receipts[0], *items[r:]]
    out["receipt-inserted"] = (b"".join(inserted), "chain_fork", r + 1, None)
    foreign = build(signer_for=lambda i: other if i == 2 else Signer(TEST_SEED))
    out["receipt-from-other-key"] = (foreign.ledger(), "untrusted_key", r + 1, None)
    truncated = items[: r + 2] + items[r + 3 :]  # drop c0's last receipt, keep its checkpoint
    out["tail-truncated"] = (b"".join(truncated), "checkpoint_mismatch", len(truncated) - 2, None)
    out["checkpoint-dropped"] = (b"".join(items[:-1]), "missing_checkpoint", len(items) - 1, None)
    out["cut-mid-item"] = (base.ledger()[:-10], "truncated", len(items) - 1, None)
    out["trailing-bytes"] = (base.ledger() + b"\x00", "unexpected_item", len(items), None)
    out["cost-not-from-prices"] = (build(_bump("cost", 0)).ledger(), "cost_mismatch", r, None)
    out["unit-price-not-from-book"] = (build(_wrong_unit_price).ledger(), "unit_price_mismatch",
                                       r, None)
    out["fx-rate-not-published"] = (build(_wrong_fx).ledger(), "fx_mismatch", r, None)
    out["fx-conversion-wrong"] = (build(_bump("cost_reporting", 0)).ledger(),
                                  "fx_conversion_mismatch", r, None)
    out["spend-hidden-as-unknown-model"] = (build(_hidden_as_unknown).ledger(),
                                            "pricing_status_mismatch", r, None)
    out["non-shortest-integer"] = (build(encode_hook=_non_shortest).ledger(),
                                   "non_deterministic_encoding", r + 3, None)
    out["unsorted-map"] = (build(encode_hook=_unsorted).ledger(),
                           "non_deterministic_encoding", r + 3, None)
    out["float-in-payload"] = (build(encode_hook=_float_runtime).ledger(),
                               "non_deterministic_encoding", r + 3, None)
    out["duplicate-request-id"] = (build(_duplicate_request).ledger(), "duplicate_id", r + 1,
                                   None)
    rotated = rotated_keys()
    late = build(keys=rotated, signer_for=lambda i: rotated[0][0] if i <= 1 else other)
    out["key-used-after-rotation"] = (late.ledger(), "key_not_valid", r + 1 + 3,
                                      "test-key.pub.pem,other-key.pub.pem")
    swapped_rate = fx_rate_item(Signer(TEST_SEED), FxRate("USD", "GBP", "2025-11-29", 780_000_000,
                                                          "vectors-fixed", T0 - 2000))
    out["preamble-item-replaced"] = (_replace(base, 3, swapped_rate), "preamble_mismatch", 0,
                                     None)
    out["price-book-dropped"] = (b"".join(items[:2] + items[3:]), "count_mismatch", 2, None)
    out["header-dropped"] = (b"".join(items[1:]), "missing_header", 0, None)
    out["empty"] = (b"", "empty_ledger", 0, None)
    out["garbage"] = (bytes(range(256)) * 4, "malformed_item", 0, None)
    out["json-file"] = (json.dumps([{"receipt": receipt_json(base.receipt_payloads[0])}],
                                   indent=2).encode(), "malformed_item", 0, None)
    return out


def allocation_vectors() -> dict[str, tuple[bytes, str, int, str | None]]:
    """Defects of an allocation set (step 2f), each in a ledger holding that one set."""
    good = ALLOCATION_SETS[-1]
    one = build(allocation_sets=[encode(good)])
    items = one.items()
    at = FIRST_RECEIPT  # the set comes right after the FX rate
    out: dict[str, tuple[bytes, str, int, str | None]] = {}
    out["allocation-set-signature-changed"] = (
        _replace(one, at, _flip(items[at], len(items[at]) - 5)), "bad_signature", at, None)
    out["allocation-set-dropped"] = (b"".join(items[:at] + items[at + 1:]), "count_mismatch",
                                     at, None)
    other = {**good, "currency": "USD"}
    out["allocation-set-in-other-currency"] = (
        build(allocation_sets=[encode(other)]).ledger(), "schema_violation", at, None)
    rules = [dict(r) for r in good["rules"]]
    rules[1]["amount"] += 1  # 0.05 GBP and 10^-12: not a whole number of cents
    out["allocation-share-not-whole-units"] = (
        build(allocation_sets=[encode({**good, "rules": rules})]).ledger(),
        "schema_violation", at, None)
    cheaper = Signer(TEST_SEED).sign(cose.ALLOCATION_SET,
                                     {**good, "rules": good["rules"][:1]})
    out["allocation-set-replaced"] = (_replace(one, at, cheaper), "preamble_mismatch", 0, None)
    return out
