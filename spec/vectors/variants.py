"""The other ledgers of the test vectors: rotated keys, every optional receipt field,
allocation sets, and a key item with a small-order public key."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from reference import T0, build, reference_call, rotated_keys

from receipts.issuing.receipt_builder import Call
from verifier import cose
from verifier.encoding import encode
from verifier.schema import FORMAT_VERSION


def rotated_ledger() -> bytes:
    """Valid: receipt 0 signed by the retired key inside its window, the rest by its successor."""
    rotated = rotated_keys()
    return build(keys=rotated, signer_for=lambda i: rotated[0][0] if i == 0 else
                 rotated[1][0]).ledger()


def _with_options(i: int, call: Call) -> Call:
    """Every optional receipt field (spec §6.1) on some receipt; none of them changes a price."""
    return replace(
        call, started_at=call.issued_at - 1500,
        provider_response_id=f"chatcmpl-vectors{i:04d}" if call.provider == "openai"
        else f"msg_vectors{i:04d}",
        retry_of=reference_call(i - 2).receipt_id if i >= 2 else None,
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


GBP = 10**12
CENT = 10**10
HOUR_MS = 3_600_000


def _allocation_set(month: str, created_at: int, rules: list[dict[str, Any]]
                    ) -> dict[str, Any]:
    return {"v": FORMAT_VERSION, "name": "Vectors chargeback", "effective_from": month,
            "created_at": created_at, "currency": "GBP", "by": "team", "rules": rules}


SEATS: dict[str, Any] = {
    "kind": "fixed", "name": "Seat licences", "category": "seat_licences",
    "unit_price": 25 * GBP, "quantities": {"search": 10, "support": 4, "research": 2},
    "credit": False}
ALLOCATION_SETS = [
    # November: seats only; superseded for December by the two sets below
    _allocation_set("2025-11", T0 - HOUR_MS, [SEATS]),
    _allocation_set("2025-12", T0 + HOUR_MS, [SEATS]),
    # the correction recorded later for the same month: the set in force (spec §8.1)
    _allocation_set("2025-12", T0 + 2 * HOUR_MS, [
        SEATS,
        {"kind": "distribute", "name": "OpenAI volume discount", "category": "discount",
         "amount": 5 * CENT, "unit": CENT, "credit": True, "key": "spend",
         "scope": {"provider": "openai"}},
        {"kind": "distribute", "name": "Vector database", "category": "tools",
         "amount": 120 * GBP, "unit": CENT, "credit": False,
         "key": {"search": 2, "research": 1}, "scope": {}},
        {"kind": "split", "name": "Shared support agent", "category": "shared_agent",
         "match": {"agent": "agent-support"}, "ratios": {"search": 70, "research": 30},
         "unit": CENT},
    ]),
]
"""Every rule kind of spec §7.8, and a set in force by ``created_at`` among two of a month."""


def allocations_ledger(sets: list[dict[str, Any]] | None = None) -> bytes:
    """Valid: the reference ledger with :data:`ALLOCATION_SETS` in its preamble."""
    return build(allocation_sets=[encode(a) for a in sets or ALLOCATION_SETS]).ledger()
