"""The service never signs what the verifier refuses: every payload passes the verifier's own
schema step before it is signed.

A signed receipt the verifier rejects is not one bad receipt: the ledger fails verification from
that item on, for good, and a restarted service refuses to sign on the broken chain. Request
validation catches what it knows (times, counts, text lengths), but it is a second copy of the
rules and copies drift (a ``started_at`` before 1970 and a cost past 64 bits both got signed).
So the payload itself, exactly as it will be encoded, goes through
:func:`verifier.schema.check_receipt` (spec §9.2 step 6, the one implementation), and a refusal
becomes a 422 naming the request field the bad receipt field came from.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from receipts.errors import FieldProblem, Invalid, ReceiptsError
from verifier.errors import SchemaError
from verifier.schema import check_checkpoint, check_fx_rate, check_receipt

log = logging.getLogger("receipts.issuing")

REQUEST_FIELD: Mapping[str, str] = {
    "request_id": "request_id", "provider": "provider", "model": "model",
    "model_requested": "model", "tags": "tags", "usage": "usage", "usage_detail": "usage",
    "unit_prices": "usage", "cost": "usage", "cost_reporting": "usage",
    "runtime_ms": "runtime_ms", "status": "status", "retry_of": "retry_of",
    "service_tier": "service_tier", "started_at": "started_at",
    "provider_response_id": "provider_response_id", "imported": "imported",
}
"""Which request field each receipt field is made from. The others (``chain``, ``seq``,
``prev``, ``id``, ``issued_at``, ``price_book``, ``currency``, ``fx``, ...) are the service's
own: a refusal there is a fault of the service, not of the request (HTTP 500, never signed)."""

_FIELD = re.compile(r"field '([^']*)': ")


class UnsignablePayload(ReceiptsError):
    """The service built a payload the verifier would refuse, from nothing the request said
    (HTTP 500: a bug to report; nothing was signed)."""


def receipt_refusal(payload: dict[str, Any]) -> ReceiptsError | None:
    """Why the verifier would refuse ``payload`` as a request error (None: it would not).

    The field is read from the verifier's message (``field 'usage.input': ...``), the form
    every check of :mod:`verifier.schema` raises; a message without one names the body.
    """
    try:
        check_receipt(payload)
    except SchemaError as e:
        return _refusal(str(e))
    return None


def _refusal(reason: str) -> ReceiptsError:
    found = _FIELD.match(reason)
    field = found.group(1) if found else ""
    request_field = REQUEST_FIELD.get(field.split(".", 1)[0])
    message = f"the receipt of this call would not verify ({reason}); nothing was signed"
    if request_field is None:
        log.error("refused to sign a receipt the verifier rejects: %s", reason)
        return UnsignablePayload(message)
    return Invalid(message, [FieldProblem(request_field, f"the receipt would not verify: "
                                                         f"{reason}")])


def check_before_signing(content_type_rule: str, payload: dict[str, Any]) -> None:
    """Raise :class:`UnsignablePayload` if the verifier would refuse ``payload``, an FX rate
    (``"fx_rate"``) or checkpoint (``"checkpoint"``) the service is about to sign. Their inputs
    are validated before they get here, so a refusal is a fault of the service."""
    check = {"fx_rate": check_fx_rate, "checkpoint": check_checkpoint}[content_type_rule]
    try:
        check(payload)
    except SchemaError as e:
        log.error("refused to sign an item the verifier rejects: %s", e)
        raise UnsignablePayload(f"not signed: the verifier would refuse it ({e})") from None
