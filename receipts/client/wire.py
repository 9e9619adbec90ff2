"""What the sync and async clients share: request bodies, reading answers, checking receipts.

Kept apart from the transports so that both clients follow one set of rules: which answers are
retried (no answer, 429, 5xx), which are final refusals (other 4xx), and how a receipt is
checked against the pinned key (the verifier's :func:`verifier.single.verify_receipt`).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from receipts.errors import ReceiptNotAuthentic, ReceiptRefused
from verifier.errors import VerificationFailure, VerifierError
from verifier.keys import PublicKey, load_public_key_pem
from verifier.single import verify_receipt

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Answers that say "not now" rather than "never": sent again with the same request id."""


@dataclass(frozen=True)
class Recorded:
    """What ``record`` got: the receipt, or the fact that the call waits in the spool."""

    request_id: str
    receipt: dict[str, Any] | None = None
    cose: bytes | None = None
    spooled: bool = False
    replay: bool = False
    """True when the service already held this request id (the original receipt came back)."""
    signed_payload: dict[str, Any] | None = None
    """The payload as signed, when a public key is pinned (checked by the verifier)."""


@dataclass(frozen=True)
class Decision:
    """The answer of ``POST /v1/authorize``: ``allow`` (with the reservation to name in the
    receipt request: ``record(..., reservation=d.reservation_id)``), ``deny`` (with why), or
    ``approval_required`` (with the approval to wait for)."""

    decision: str
    reservation_id: str | None = None
    reason: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    approval_id: str | None = None

    @property
    def allowed(self) -> bool:
        """True only for ``allow``."""
        return self.decision == "allow"


def pinned_key(key: PublicKey | bytes | Path | str | None) -> PublicKey | None:
    """The key to check receipts with: a PublicKey, 32 raw bytes, or a PEM file's path."""
    if key is None or isinstance(key, PublicKey):
        return key
    if isinstance(key, bytes):
        return PublicKey(key)
    return load_public_key_pem(Path(key))


def call_body(*, provider: str, model: str, usage: dict[str, Any] | list[Any],
              usage_format: str | None, tags: dict[str, str], request_id: str | None,
              extra: dict[str, Any]) -> dict[str, Any]:
    """The ``POST /v1/receipts`` body; a new request id unless the caller gave one."""
    body: dict[str, Any] = {"request_id": request_id or str(uuid.uuid4()),
                            "provider": provider, "model": model, "usage": usage, "tags": tags}
    if usage_format is not None:
        body["usage_format"] = usage_format
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def authorize_body(*, provider: str, model: str, tags: dict[str, str],
                   max_input_tokens: int | None, max_output_tokens: int | None,
                   estimated_cost: Decimal | str | None, request_id: str | None,
                   ) -> dict[str, Any]:
    """The ``POST /v1/authorize`` body (money as a decimal string, never a float)."""
    if isinstance(estimated_cost, float):
        raise TypeError("estimated_cost must be a Decimal or a decimal string, not a float")
    body: dict[str, Any] = {"request_id": request_id or str(uuid.uuid4()),
                            "provider": provider, "model": model, "tags": tags}
    if max_input_tokens is not None:
        body["max_input_tokens"] = max_input_tokens
    if max_output_tokens is not None:
        body["max_output_tokens"] = max_output_tokens
    if estimated_cost is not None:
        body["estimated_cost"] = str(estimated_cost)
    return body


def should_retry(response: httpx.Response) -> bool:
    """A "not now" answer."""
    return response.status_code in RETRY_STATUSES


def refuses_the_call(response: httpx.Response) -> bool:
    """A 4xx about this call (a bad field, a reused request id with another body, tags that
    contradict the agent's binding): the call is set aside. Any other 4xx (a key unknown or
    revoked, the admin token, a wrong address) says nothing about the call: it stays waiting
    until the client is configured right."""
    if response.status_code in (409, 413, 422):
        return True
    if response.status_code != 403:
        return False
    try:
        return bool(response.json()["error"].get("fields"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


def refusal(response: httpx.Response) -> ReceiptRefused:
    """A final 4xx as an error, with the service's own message."""
    try:
        message = str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = response.text[:200]
    return ReceiptRefused(response.status_code, message)


def read_receipt(request_id: str, response: httpx.Response, key: PublicKey | None,
                 keep_cose: bool) -> Recorded:
    """A 200/201 answer as :class:`Recorded`, checked against ``key`` when one is pinned."""
    data = response.json()
    cose = base64.b64decode(data["cose"]) if data.get("cose") else None
    signed = None
    if key is not None:
        if cose is None:
            raise ReceiptNotAuthentic("the service returned no signed receipt")
        try:
            signed = verify_receipt(cose, key)
        except (VerificationFailure, VerifierError) as e:
            raise ReceiptNotAuthentic(f"receipt {data['receipt'].get('id')}: {e}") from e
        if signed.get("id") != data["receipt"].get("id"):
            raise ReceiptNotAuthentic("the signed receipt is not the one described")
    return Recorded(request_id, data["receipt"], cose if keep_cose else None,
                    replay=response.status_code == 200, signed_payload=signed)


def read_decision(response: httpx.Response) -> Decision:
    """A 200 answer of ``/v1/authorize`` as :class:`Decision`."""
    data = response.json()
    reason = data.get("reason")
    return Decision(str(data["decision"]), _id_of(data, "reservation"),
                    None if reason is None else str(reason), data, _id_of(data, "approval"))


def _id_of(data: dict[str, Any], name: str) -> str | None:
    """``name`` as an id, an object with an ``id``, or ``name_id``."""
    value = data.get(name, data.get(f"{name}_id"))
    if isinstance(value, dict):
        value = value.get("id")
    return None if value is None else str(value)
