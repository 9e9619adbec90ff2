"""Build, price, sign and chain receipts (spec §5, §6) with the verifier's own rules.

Pricing and chaining go through the format core's functions (``PriceBook.resolve``,
``cost_of``, ``receipt_fx``, ``convert``, ``link_hash``), the very ones the verifier re-runs,
so a receipt this module builds always verifies, to the byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from receipts.deployment.signing_key import Signer
from receipts.issuing.payload_check import receipt_refusal
from verifier import cose
from verifier.chain import link_hash
from verifier.encoding import encode
from verifier.money import convert, cost_of
from verifier.pricing import FxRate, PriceBook, RateTable, receipt_fx
from verifier.schema import FORMAT_VERSION, PRICED, ZERO_HASH


@dataclass(frozen=True)
class Call:
    """One LLM call as the service accepted it (usage already in disjoint billable categories)."""

    request_id: str
    provider: str
    model: str
    model_requested: str
    agent: str
    tags: Mapping[str, str]
    usage: Mapping[str, int]
    issued_at: int
    receipt_id: str
    runtime_ms: int | None = None
    status: str = "ok"
    retry_of: str | None = None
    usage_detail: Mapping[str, int] | None = None
    service_tier: str | None = None
    started_at: int | None = None
    provider_response_id: str | None = None
    imported: tuple[bytes, int] | None = None
    """(SHA-256 of the log file, line) of a call backfilled from a usage log."""


def price_fields(
    call: Call, book: PriceBook, rates: Iterable[FxRate] | RateTable, reporting_currency: str
) -> dict[str, Any]:
    """The pricing part of a receipt: unit prices, cost, FX and cost in reporting currency."""
    resolution = book.resolve(call.provider, call.model, call.usage, call.service_tier)
    cost = cost_of(call.usage, resolution.unit_prices) if resolution.status == PRICED else None
    rule = receipt_fx(book.currency, reporting_currency,
                      rates if isinstance(rates, RateTable) else RateTable(rates), call.issued_at)
    fx = None if rule is None else dict(rule)
    return {
        "unit_prices": dict(resolution.unit_prices),
        "price_book": book.id,
        "currency": book.currency,
        "cost": cost,
        "pricing_status": resolution.status,
        "fx": fx,
        "cost_reporting": convert(cost, fx["rate"]) if cost is not None and fx else None,
    }


def receipt_payload(call: Call, chain: str, seq: int, prev: bytes,
                    pricing: Mapping[str, Any]) -> dict[str, Any]:
    """The complete receipt payload map (spec §6)."""
    payload: dict[str, Any] = {
        "v": FORMAT_VERSION,
        "chain": chain,
        "seq": seq,
        "prev": prev,
        "id": call.receipt_id,
        "issued_at": call.issued_at,
        "request_id": call.request_id,
        "provider": call.provider,
        "model": call.model,
        "model_requested": call.model_requested,
        "agent": call.agent,
        "tags": dict(call.tags),
        "usage": dict(call.usage),
        "runtime_ms": call.runtime_ms,
        "status": call.status,
        **pricing,
    }
    if call.retry_of is not None:
        payload["retry_of"] = call.retry_of
    if call.usage_detail:
        payload["usage_detail"] = dict(call.usage_detail)
    if call.service_tier is not None:
        payload["service_tier"] = call.service_tier
    if call.started_at is not None:
        payload["started_at"] = call.started_at
    if call.provider_response_id is not None:
        payload["provider_response_id"] = call.provider_response_id
    if call.imported is not None:
        payload["imported"] = {"sha256": call.imported[0], "line": call.imported[1]}
    return payload


@dataclass
class ChainHead:
    """Where a chain stands: the next receipt gets ``seq = size`` and ``prev = head``."""

    chain: str
    size: int = 0
    head: bytes = ZERO_HASH


@dataclass(frozen=True)
class SignedReceipt:
    """A signed receipt: its COSE bytes (as in the ledger), payload and chain hash."""

    item: bytes
    payload: dict[str, Any]
    digest: bytes


def sign_receipt(signer: Signer, head: ChainHead, call: Call,
                 pricing: Mapping[str, Any]) -> SignedReceipt:
    """Sign the next receipt of ``head``'s chain and advance ``head`` (caller persists it);
    a payload the verifier would refuse raises instead (:mod:`receipts.issuing.payload_check`)."""
    payload = receipt_payload(call, head.chain, head.size, head.head, pricing)
    refusal = receipt_refusal(payload)
    if refusal is not None:
        raise refusal
    item = signer.sign_payload_bytes(cose.RECEIPT, encode(payload))
    digest = link_hash(item)
    head.size += 1
    head.head = digest
    return SignedReceipt(item, payload, digest)


def checkpoint_payload(issuer: str, head: ChainHead, time_ms: int) -> dict[str, Any]:
    """A checkpoint for ``head`` (spec §7.5)."""
    return {"v": FORMAT_VERSION, "issuer": issuer, "chain": head.chain, "size": head.size,
            "head": head.head, "time": time_ms}


def public_key_payload(signer: Signer, valid_from: int, valid_until: int | None) -> dict[str, Any]:
    """The ledger's public key item payload (spec §7.2)."""
    return {"v": FORMAT_VERSION, "kid": signer.kid, "public_key": signer.public_key,
            "valid_from": valid_from, "valid_until": valid_until}


def fx_rate_payload(rate: FxRate) -> dict[str, Any]:
    """A published FX rate item payload (spec §7.4)."""
    return {"v": FORMAT_VERSION, "base": rate.base, "quote": rate.quote, "date": rate.date,
            "rate": rate.rate, "source": rate.source, "published_at": rate.published_at}
