"""The reference ledger every test vector derives from: fixed keys, times, ids and calls.

:func:`build` makes it (6 receipts over two chains, GBP reporting, one USD book); its hooks let
:mod:`defects` introduce one defect at a time and :mod:`variants` make the other ledgers. The
keys are the RFC 8032 §7.1 TEST 1 and TEST 2 secret keys: public knowledge, for tests only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def reference_call(i: int) -> Call:
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
          keys: list[KeySpec] | None = None, call_hook: CallHook | None = None,
          allocation_sets: list[bytes] | None = None) -> Parts:
    """The reference ledger: 6 receipts over chains c0 and c1, GBP reporting, one USD book.

    ``keys`` lists the ledger's keys with validity windows; the last one signs the header,
    price book, FX rate and checkpoints, ``signer_for(i)`` (default: the last key) receipt i;
    ``call_hook(i, call)`` changes call i before it is priced and signed;
    ``allocation_sets`` are payload bytes signed into the preamble after the rate (§7.8).
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
        call = call_hook(i, reference_call(i)) if call_hook else reference_call(i)
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
                price_book_item(signer, book_bytes), fx_rate_item(fx_signer, rates[0]),
                *(signer.sign_payload_bytes(cose.ALLOCATION_SET, raw)
                  for raw in allocation_sets or ())]
    counts = {"keys": len(keys), "price_books": 1, "fx_rates": 1}
    if allocation_sets:
        counts["allocations"] = len(allocation_sets)
    header = {
        "v": FORMAT_VERSION, "format": LEDGER_FORMAT, "issuer": ISSUER, "created_at": created,
        "preamble": preamble_digest(preamble),
        "reporting_currency": "GBP", "chains": ["c0", "c1"],
        "counts": counts,
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


def rotated_keys() -> list[KeySpec]:
    """The test key retired at T0 + 90 s, the other key in service from then on."""
    return [(Signer(TEST_SEED), T0 - 86_400_000, T0 + 90_000),
            (Signer(OTHER_SEED), T0 + 90_000, None)]
