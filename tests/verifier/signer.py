"""A test signer and ledger builder of the verifier's tests' own: never the service.

An auditor installs the verifier alone, so its tests build the signed ledgers they need from
PyNaCl, the verifier's deterministic encoder and COSE helpers, and its pricing rules (the
rules under test are applied by the verifier itself when it reads the ledger back: a builder
that priced differently would fail every test). Receipts look like real traffic: three teams,
several models, cached prompts, now and then an unknown (unpriced) model; deterministic for a
seed, and a longer ledger extends a shorter one of the same seed, chain by chain.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from nacl.signing import SigningKey

from verifier import cose
from verifier.chain import link_hash
from verifier.encoding import encode
from verifier.keys import key_id, public_key_pem
from verifier.money import convert, cost_of
from verifier.preamble import preamble_digest
from verifier.pricing import FxRate, PriceBook, RateTable, receipt_fx
from verifier.schema import FORMAT_VERSION, LEDGER_FORMAT, PRICED, ZERO_HASH

START_MS = 1_764_547_200_000  # 2025-12-01T00:00:00Z
DAY_MS = 86_400_000
MODELS = {
    "search": [("openai", "gpt-4o"), ("openai", "gpt-4o-mini")],
    "support": [("anthropic", "claude-sonnet-4")],
    "research": [("google", "gemini-2.5-flash")],
}
BOOK: dict[str, Any] = {
    "v": FORMAT_VERSION, "currency": "USD", "effective_from": START_MS - DAY_MS,
    "created_at": START_MS - DAY_MS, "source": "verifier tests",
    "input_categories": ["input", "cache_read", "cache_write"],
    "models": [
        {"provider": "openai", "model": "gpt-4o", "metered": True,
         "prices": {"input": 2_500_000, "cache_read": 1_250_000, "output": 10_000_000}},
        {"provider": "openai", "model": "gpt-4o-mini", "metered": True,
         "prices": {"input": 150_000, "cache_read": 75_000, "output": 600_000}},
        {"provider": "anthropic", "model": "claude-sonnet-4", "metered": True,
         "prices": {"input": 3_000_000, "cache_read": 300_000, "cache_write": 3_750_000,
                    "output": 15_000_000}},
        {"provider": "google", "model": "gemini-2.5-flash", "metered": True,
         "prices": {"input": {"base": 300_000, "tiers": [{"start": 200_000, "price": 600_000}]},
                    "output": 2_500_000}},
    ],
}
RATE = FxRate("USD", "GBP", "2025-11-30", 790_000_000, "test-fixed", START_MS - 1)


class Signer:
    """An Ed25519 signing key that signs ledger items (COSE_Sign1, spec §2)."""

    def __init__(self, seed: bytes) -> None:
        self._key = SigningKey(seed)
        self.public_key = bytes(self._key.verify_key)
        self.kid = key_id(self.public_key)

    @classmethod
    def generate(cls) -> Signer:
        """A fresh random key."""
        return cls(bytes(SigningKey.generate()))

    def public_pem(self) -> bytes:
        """The public key as a PEM file holds it."""
        return public_key_pem(self.public_key)

    def sign_payload_bytes(self, content_type: str, payload: bytes) -> bytes:
        """The signed item for these payload bytes."""
        protected = cose.protected_header(content_type, self.kid)
        signature = self._key.sign(cose.sig_structure(protected, payload)).signature
        return cose.assemble(protected, payload, signature)

    def sign(self, content_type: str, payload: dict[str, Any]) -> bytes:
        """The signed item for this payload, deterministically encoded."""
        return self.sign_payload_bytes(content_type, encode(payload))


def _call(rng: random.Random, seed: int, i: int) -> dict[str, Any]:
    """A receipt payload without its chain fields and prices."""
    team = sorted(MODELS)[rng.randrange(len(MODELS))]
    provider, model = MODELS[team][rng.randrange(len(MODELS[team]))]
    if rng.random() < 0.02:
        model = "experimental-model-x"  # not in the book: an unpriced receipt
    prompt = int(rng.lognormvariate(7.5, 1.0)) + 20
    cached = int(prompt * rng.choice((0, 0, 0.5, 0.8))) if provider != "google" else 0
    usage = {"input": prompt - cached, "output": int(rng.lognormvariate(5.5, 1.0)) + 1}
    if cached:
        usage["cache_read"] = cached
    return {
        "v": FORMAT_VERSION, "id": str(uuid.UUID(int=random.Random(seed * 1_000_003 + i)
                                                 .getrandbits(128))),
        "issued_at": START_MS + i * 13_000, "request_id": f"req-{seed}-{i}",
        "provider": provider, "model": model, "model_requested": model,
        "agent": f"agent-{team}", "usage": usage,
        "tags": {"team": team, "project": f"{team}-{rng.randrange(2)}", "environment": "prod"},
        "runtime_ms": int(rng.lognormvariate(6.5, 0.6)), "status": "ok",
    }


def _price(p: dict[str, Any], book: PriceBook, rates: RateTable) -> None:
    """Add the pricing fields with the verifier's rules (spec §5)."""
    resolution = book.resolve(p["provider"], p["model"], p["usage"], None)
    cost = cost_of(p["usage"], resolution.unit_prices) if resolution.status == PRICED else None
    fx = receipt_fx(book.currency, "GBP", rates, p["issued_at"])
    p.update(unit_prices=dict(resolution.unit_prices), price_book=book.id,
             currency=book.currency, cost=cost, pricing_status=resolution.status,
             fx=None if fx is None else dict(fx),
             cost_reporting=convert(cost, fx["rate"]) if cost is not None and fx else None)


Edit = Callable[[list[dict[str, Any]]], None]
"""Changes receipt payloads (in ledger order, before chaining and signing) in place."""


def sample_ledger(signer: Signer, n: int, chains: int = 1, seed: int = 0,
                  edit: Edit | None = None,
                  allocation_sets: Sequence[dict[str, Any]] = ()) -> bytes:
    """A valid ledger of ``n`` receipts over ``chains`` chains (unless ``edit`` breaks it),
    with ``allocation_sets`` (payloads) signed into its preamble (spec §7.8)."""
    book_bytes = encode(BOOK)
    book = PriceBook.from_payload(BOOK, book_bytes)
    rates = RateTable([RATE])
    rng = random.Random(seed)
    calls = [_call(rng, seed, i) for i in range(n)]
    for p in calls:
        _price(p, book, rates)
    if edit is not None:
        edit(calls)
    names = [f"c{k}" for k in range(chains)]
    heads = dict.fromkeys(names, (0, ZERO_HASH))
    per_chain: dict[str, list[bytes]] = {name: [] for name in names}
    for i, p in enumerate(calls):
        chain = names[i % chains]
        size, head = heads[chain]
        item = signer.sign(cose.RECEIPT, {**p, "chain": chain, "seq": size, "prev": head})
        heads[chain] = (size + 1, link_hash(item))
        per_chain[chain].append(item)
    created = START_MS + 31 * DAY_MS
    preamble = [
        signer.sign(cose.PUBLIC_KEY, {"v": FORMAT_VERSION, "kid": signer.kid,
                                      "public_key": signer.public_key,
                                      "valid_from": START_MS - DAY_MS, "valid_until": None}),
        signer.sign_payload_bytes(cose.PRICE_BOOK, book_bytes),
        signer.sign(cose.FX_RATE, {"v": FORMAT_VERSION, "base": RATE.base, "quote": RATE.quote,
                                   "date": RATE.date, "rate": RATE.rate, "source": RATE.source,
                                   "published_at": RATE.published_at}),
        *(signer.sign(cose.ALLOCATION_SET, a) for a in allocation_sets),
    ]
    counts = {"keys": 1, "price_books": 1, "fx_rates": 1}
    if allocation_sets:
        counts["allocations"] = len(allocation_sets)
    header = signer.sign(cose.LEDGER_HEADER, {
        "v": FORMAT_VERSION, "format": LEDGER_FORMAT, "issuer": "receipts-sample",
        "preamble": preamble_digest(preamble), "created_at": created,
        "reporting_currency": "GBP", "chains": names,
        "counts": counts})
    checkpoints = [signer.sign(cose.CHECKPOINT, {
        "v": FORMAT_VERSION, "issuer": "receipts-sample", "chain": name,
        "size": heads[name][0], "head": heads[name][1], "time": created}) for name in names]
    receipts = [item for name in names for item in per_chain[name]]
    return b"".join([header, *preamble, *receipts, *checkpoints])
