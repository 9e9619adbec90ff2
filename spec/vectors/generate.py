#!/usr/bin/env python3
"""Regenerate the test vectors of spec/receipt.md from fixed keys, fixed times and fixed ids.

    python spec/vectors/generate.py            # rewrite spec/vectors/
    python spec/vectors/generate.py --check    # regenerate in memory, fail if any byte differs

Everything is deterministic (Ed25519 signatures are), so the committed vectors are exactly what
this script prints; tests/verifier/test_vectors.py runs the --check comparison. Each invalid
ledger isolates one defect and ``expected.json`` names the failure code and item index the
verifier must report. The keys are the RFC 8032 §7.1 TEST 1 and TEST 2 secret keys: public
knowledge, for tests only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cbor2

from receipts.deployment.signing_key import Signer
from receipts.issuing.receipt_builder import (
    Call,
    ChainHead,
    checkpoint_payload,
    price_fields,
    receipt_payload,
)
from receipts.pricing.books import shipped_price_book
from receipts.storage.ledger_file import fx_rate_item, key_item, price_book_item
from verifier import cose
from verifier.chain import link_hash
from verifier.encoding import encode
from verifier.jsonview import receipt_json
from verifier.preamble import preamble_digest
from verifier.pricing import FxRate
from verifier.schema import FORMAT_VERSION, LEDGER_FORMAT

HERE = Path(__file__).resolve().parent
TEST_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
OTHER_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
T0 = 1_764_547_200_000  # 2025-12-01T00:00:00Z
ISSUER = "vectors.receipts.example"
ED25519_L = 2**252 + 27742317777372353535851937790883648493

CALLS: list[dict[str, Any]] = [
    {"provider": "openai", "model": "gpt-4o", "usage": {"input": 1000, "cache_read": 200,
                                                          "output": 300}, "team": "search"},
    {"provider": "anthropic", "model": "claude-sonnet-4",
     "usage": {"input": 500, "cache_read": 1500, "cache_write": 400, "output": 250},
     "team": "support"},
    {"provider": "google", "model": "gemini-2.5-pro", "usage": {"input": 250_000, "output": 900},
     "team": "research", "detail": {"reasoning": 600}},
    {"provider": "openai", "model": "gpt-4o-mini", "usage": {"input": 12_000, "output": 40},
     "team": "search"},
    {"provider": "openai", "model": "mystery-model", "usage": {"input": 10, "output": 5},
     "team": "support"},
    {"provider": "self-hosted", "model": "llama-3.1-70b", "usage": {"input": 800, "output": 80},
     "team": "research"},
]

PayloadHook = Callable[[int, dict[str, Any]], dict[str, Any]]
CallHook = Callable[[int, Call], Call]
EncodeHook = Callable[[int, dict[str, Any]], bytes]


@dataclass
class Parts:
    """A ledger as a list of items, so single defects can be introduced item by item."""

    header: bytes
    preamble: list[bytes]
    receipts: list[bytes]
    checkpoints: list[bytes]
    receipt_payloads: list[dict[str, Any]] = field(default_factory=list)

    def items(self) -> list[bytes]:
        return [self.header, *self.preamble, *self.receipts, *self.checkpoints]

    def ledger(self) -> bytes:
        return b"".join(self.items())


def _call(i: int) -> Call:
    spec = CALLS[i]
    return Call(
        request_id=f"req-{i:04d}", provider=spec["provider"], model=spec["model"],
        model_requested=spec["model"], agent=f"agent-{spec['team']}",
        tags={"team": spec["team"], "project": "vectors", "environment": "test"},
        usage=spec["usage"], issued_at=T0 + 60_000 * (i + 1),
        receipt_id=f"00000000-0000-4000-8000-{i:012d}", runtime_ms=100 + i,
        usage_detail=spec.get("detail"),
    )


KeySpec = tuple[Signer, int, int | None]


def build(payload_hook: PayloadHook | None = None, encode_hook: EncodeHook | None = None,
          *, signer_for: Callable[[int], Signer] | None = None,
          keys: list[KeySpec] | None = None, call_hook: CallHook | None = None) -> Parts:
    """The reference ledger: 6 receipts over chains c0 and c1, GBP reporting, one USD book.

    ``keys`` lists the ledger's keys with validity windows; the last one signs the header,
    price book, FX rate and checkpoints, ``signer_for(i)`` (default: the last key) receipt i;
    ``call_hook(i, call)`` changes call i before it is priced and signed.
    """
    keys = keys or [(Signer(TEST_SEED), T0 - 86_400_000, None)]
    signer = keys[-1][0]
    book_bytes, book = shipped_price_book()
    rates = [FxRate("USD", "GBP", "2025-11-30", 790_000_000, "vectors-fixed", T0 - 1000)]
    # A rate is signed when it is published, by the key in service then.
    fx_signer = next(k for k, start, end in keys
                     if start <= rates[0].published_at and (end is None
                                                           or rates[0].published_at < end))
    heads = [ChainHead("c0"), ChainHead("c1")]
    by_chain: list[list[bytes]] = [[], []]
    payloads: list[dict[str, Any]] = []
    for i in range(len(CALLS)):
        call = call_hook(i, _call(i)) if call_hook else _call(i)
        head = heads[i % 2]
        payload = receipt_payload(call, head.chain, head.size, head.head,
                                  price_fields(call, book, rates, "GBP"))
        if payload_hook:
            payload = payload_hook(i, payload)
        raw = encode_hook(i, payload) if encode_hook else encode(payload)
        item = (signer_for(i) if signer_for else signer).sign_payload_bytes(cose.RECEIPT, raw)
        head.size += 1
        head.head = link_hash(item)
        by_chain[i % 2].append(item)
        payloads.append(payload)
    created = T0 + 86_400_000
    preamble = [*(key_item(k, start, end) for k, start, end in keys),
                price_book_item(signer, book_bytes), fx_rate_item(fx_signer, rates[0])]
    header = {
        "v": FORMAT_VERSION, "format": LEDGER_FORMAT, "issuer": ISSUER, "created_at": created,
        "preamble": preamble_digest(preamble),
        "reporting_currency": "GBP", "chains": ["c0", "c1"],
        "counts": {"keys": len(keys), "price_books": 1, "fx_rates": 1},
    }
    return Parts(
        header=signer.sign(cose.LEDGER_HEADER, header),
        preamble=preamble,
        receipts=by_chain[0] + by_chain[1],
        checkpoints=[signer.sign(cose.CHECKPOINT, checkpoint_payload(ISSUER, h, created))
                     for h in heads],
        receipt_payloads=payloads,
    )


# Index of the first receipt among all items: header + key + price book + FX rate.
FIRST_RECEIPT = 4


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
    rotated = _rotated_keys()
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


def _rotated_keys() -> list[KeySpec]:
    """The test key retired at T0 + 90 s, the other key in service from then on."""
    return [(Signer(TEST_SEED), T0 - 86_400_000, T0 + 90_000),
            (Signer(OTHER_SEED), T0 + 90_000, None)]


def rotated_ledger() -> bytes:
    """Valid: receipt 0 signed by the retired key inside its window, the rest by its successor."""
    rotated = _rotated_keys()
    return build(keys=rotated, signer_for=lambda i: rotated[0][0] if i == 0 else
                 rotated[1][0]).ledger()


def _with_options(i: int, call: Call) -> Call:
    """Every optional receipt field (spec §6.1) on some receipt; none of them changes a price."""
    return replace(
        call, started_at=call.issued_at - 1500,
        provider_response_id=f"chatcmpl-vectors{i:04d}" if call.provider == "openai"
        else f"msg_vectors{i:04d}",
        retry_of=_call(i - 2).receipt_id if i >= 2 else None,
        imported=(hashlib.sha256(b"vectors usage log").digest(), i + 1) if i % 2 else None)


def optional_fields_ledger() -> bytes:
    """Valid: the reference ledger with the optional fields set (``started_at``,
    ``provider_response_id``, ``retry_of``, ``imported`` on the odd receipts)."""
    return build(call_hook=_with_options).ledger()


def small_order_key_ledger() -> bytes:
    """A key item whose public key has order 1 (the identity point): refused at load."""
    identity = b"\x01" + bytes(31)
    kid = hashlib.sha256(identity).digest()[:16]
    payload = {"v": FORMAT_VERSION, "kid": kid, "public_key": identity, "valid_from": T0,
               "valid_until": None}
    fake = cose.assemble(cose.protected_header(cose.PUBLIC_KEY, kid), encode(payload), bytes(64))
    items = build().items()
    return b"".join([items[0], fake, *items[2:]])


def render() -> dict[str, bytes]:
    """Every vector file, by path relative to spec/vectors/."""
    base = build()
    signer = Signer(TEST_SEED)
    files: dict[str, bytes] = {
        "test-key.pub.pem": signer.public_pem(),
        "other-key.pub.pem": Signer(OTHER_SEED).public_pem(),
        "price-book.cbor": shipped_price_book()[0],
        "receipt-payload.cbor": encode(base.receipt_payloads[0]),
        "receipt.cose": base.receipts[0],
        "receipt.json": (json.dumps(receipt_json(base.receipt_payloads[0]), indent=2,
                                    sort_keys=True) + "\n").encode(),
        "valid/ledger.cbor": base.ledger(),
        "valid/rotated-keys.cbor": rotated_ledger(),
        "valid/optional-fields.cbor": optional_fields_ledger(),
    }
    expected: dict[str, Any] = {
        "valid/ledger.cbor": {"valid": True, "receipts": 6, "chains": {"c0": 3, "c1": 3},
                              "unpriced": 2, "keys": ["test-key.pub.pem"]},
        "valid/optional-fields.cbor": {"valid": True, "receipts": 6,
                                       "chains": {"c0": 3, "c1": 3}, "unpriced": 2,
                                       "keys": ["test-key.pub.pem"]},
        "valid/rotated-keys.cbor": {"valid": True, "receipts": 6, "chains": {"c0": 3, "c1": 3},
                                    "unpriced": 2,
                                    "keys": ["test-key.pub.pem", "other-key.pub.pem"]},
    }
    vectors = invalid_vectors()
    vectors["small-order-key"] = (small_order_key_ledger(), "bad_key", 1, None)
    for name, (data, code, item, key) in sorted(vectors.items()):
        path = f"invalid/{name}.cbor"
        files[path] = data
        expected[path] = {"valid": False, "code": code, "item": item,
                          "keys": (key or "test-key.pub.pem").split(",")}
    files["expected.json"] = (json.dumps(expected, indent=2, sort_keys=True) + "\n").encode()
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {path}\n"
                   for path, data in sorted(files.items()))
    files["SHA256SUMS"] = sums.encode()
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    files = render()
    if args.check:
        stale = [p for p, data in files.items()
                 if not (args.out / p).is_file() or (args.out / p).read_bytes() != data]
        for path in stale:
            print(f"stale: {path}", file=sys.stderr)
        return 1 if stale else 0
    for path, data in files.items():
        target = args.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    print(f"wrote {len(files)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
