"""Turning an authorization request into an :class:`~receipts.budgets.reservations.Ask`.

The estimate is priced exactly as the call's receipt would be (``ReceiptService.estimate``:
the book and FX rates in force, the same model-name resolution, tiers and categories), from
``max_input_tokens`` uncached input and ``max_output_tokens`` output; or it is the caller's
``estimated_cost``. Either way the provider and model are resolved to the billed ones, which
budget scopes name (as receipts and rollups do).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from receipts.budgets.definition import parse_money
from receipts.budgets.reservations import DEFAULT_HOLD_MS, Ask
from receipts.deployment.credentials import Agent, bind_tags
from receipts.errors import FieldProblem, Invalid
from receipts.issuing.prepare import Prepared
from receipts.issuing.service import ReceiptService
from receipts.pricing.usage import ours_from_counts


def ask_for(service: ReceiptService, agent: Agent, *, provider: str, model: str,
            tags: Mapping[str, str], request_id: str | None, max_input_tokens: int | None,
            max_output_tokens: int | None, estimated_cost: str | None,
            hold_seconds: int | None) -> Ask:
    """The priced request (403 for tags contradicting the agent's, 422 naming fields)."""
    bound = bind_tags(agent, tags)
    tokens = (max_input_tokens, max_output_tokens)
    if estimated_cost is not None and any(t is not None for t in tokens):
        raise Invalid("give estimated_cost or the token maxima, not both", [FieldProblem(
            "estimated_cost", "not with max_input_tokens / max_output_tokens")])
    if estimated_cost is None and None in tokens:
        missing = [n for n, t in zip(("max_input_tokens", "max_output_tokens"), tokens,
                                     strict=True) if t is None]
        raise Invalid("the token maxima (both) or estimated_cost are required", [
            FieldProblem(n, "required unless estimated_cost is given") for n in missing])
    usage = ours_from_counts(max_input_tokens or 0, max_output_tokens or 0, 0, 0, 0, 0, 0)
    call = Prepared(agent_id=agent.id, request_id=request_id or "authorize", provider=provider,
                    model=model, tags=bound, usage=usage, service_tier=None, runtime_ms=None,
                    status="ok", retry_of=None, started_at=None, body_hash=b"")
    billed_provider, billed_model, cost = service.estimate(call, estimated_cost is None)
    if estimated_cost is not None:
        estimate = parse_money(estimated_cost, "estimated_cost", positive=False)
    elif cost is None:
        raise Invalid("this call cannot be priced here: send estimated_cost", [FieldProblem(
            "model", f"{provider}/{model}: the price book in force does not price it, or no FX "
                     "rate to the reporting currency is published; send estimated_cost")])
    else:
        estimate = cost
    return Ask(agent.id, request_id or "az_" + secrets.token_hex(12), billed_provider,
               billed_model, bound, estimate,
               hold_seconds * 1000 if hold_seconds is not None else DEFAULT_HOLD_MS)
