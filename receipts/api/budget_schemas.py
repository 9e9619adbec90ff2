"""Request and response models of budgets, pre-flight authorization and approvals.

The models say what the OpenAPI document shows and refuse the wrong JSON types;
:func:`receipts.budgets.definition.parse_budget` then applies the budget rules (the same for
the CLI), naming each refused field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from receipts.api.policy_schemas import PolicyViolationOut
from receipts.api.schemas import TEXT_ONLY, Tags, Text, Tokens, _Strict

AMOUNT_PATTERN = r"^[0-9]{1,16}(\.[0-9]{1,12})?$"
Amount = Annotated[str, StringConstraints(pattern=AMOUNT_PATTERN)]
"""A decimal string in the reporting currency, at most 12 decimals (never a JSON number)."""
Time = Annotated[AwareDatetime, TEXT_ONLY]
Threshold = Annotated[int, Field(ge=1, le=1000, strict=True)]


class FixedWindow(_Strict):
    """A fixed budget window [from, until)."""

    from_: Time = Field(alias="from")
    until: Time


class BudgetIn(_Strict):
    """A budget; one with the name of an existing budget replaces it (keeping its id)."""

    name: Text
    scope: Tags = Field(default_factory=dict, max_length=16, description=(
        "Tags a receipt must have (every one), or agent (the agent id), provider, model (as "
        "billed). Empty: every receipt."))
    period: Literal["week", "month", "quarter"] | FixedWindow = Field(
        "month", description="A UTC calendar period (ISO weeks) or a fixed window.")
    limit: Amount = Field(description="In the reporting currency, e.g. \"15000\".")
    thresholds: list[Threshold] = Field([50, 80, 100], max_length=10, description=(
        "Percentages of the limit; crossing one raises one alert per period."))
    at_limit: Literal["notify", "approve", "deny"] = Field("notify", description=(
        "When an authorization's estimate does not fit: notify (allow and alert), approve "
        "(a human approves each call), deny."))


class BudgetForecast(BaseModel):
    """Period-end projection from the burn rate, with a 95% interval."""

    projected: str
    low: str
    high: str
    rate_per_day: str
    days_observed: int
    confidence: str
    overrun: bool


class BudgetOut(BaseModel):
    """A budget and where its current period stands (money as decimal strings)."""

    id: str
    name: str
    scope: dict[str, str]
    period: str | dict[str, str]
    limit: str
    thresholds: list[int]
    at_limit: str
    created_at: str
    currency: str
    period_start: str
    period_end: str
    spent: str
    reserved: str
    remaining: str
    receipts: int
    unpriced: int
    forecast: BudgetForecast


class BudgetList(BaseModel):
    """Every budget."""

    budgets: list[BudgetOut]


class BudgetDeleted(BaseModel):
    """A deleted budget."""

    id: str
    name: str
    deleted: Literal[True]


HoldSeconds = Annotated[int, Field(ge=1, le=86_400, strict=True)]


class AuthorizeIn(_Strict):
    """A call about to be made: priced from its maximum tokens (both ``max_input_tokens`` and
    ``max_output_tokens``, priced by the book in force: a model it does not price is a 422
    naming ``model``), or by the caller's ``estimated_cost``; never both (422)."""

    request_id: Text | None = Field(None, description=(
        "Makes the request idempotent: the same agent and request_id get the same reservation "
        "or approval back."))
    provider: Text
    model: Text
    tags: Tags = Field(default_factory=dict, max_length=32)
    max_input_tokens: Tokens | None = None
    max_output_tokens: Tokens | None = None
    estimated_cost: Amount | None = Field(None, description=(
        "The call's cost in the reporting currency; instead of the two token maxima."))
    hold_seconds: HoldSeconds | None = Field(None, description=(
        "How long an unused reservation holds its estimate (default 600)."))


class HeldAgainst(BaseModel):
    """The estimate held against one budget."""

    id: str
    name: str
    held: str


class ReservationOut(BaseModel):
    """A reservation: name its id as ``reservation`` in the receipt request."""

    id: str
    estimate: str
    state: str
    expires_at: str
    budgets: list[HeldAgainst]


class ApprovalOut(BaseModel):
    """A call waiting for a human."""

    id: str
    status: Literal["pending", "approved", "denied"]
    budget: str
    budget_id: str
    reason: str
    estimate: str
    provider: str
    model: str
    tags: dict[str, str]
    reservation: str | None
    created_at: str
    decided_at: str | None


class DeniedBy(BaseModel):
    """The budget that refused, and where it stands."""

    id: str
    name: str
    at_limit: str
    limit: str
    spent: str
    reserved: str
    remaining: str
    estimate: str


class AuthorizeOut(BaseModel):
    """``allow`` (with a reservation), ``deny`` (with the budget and why) or
    ``approval_required`` (with an approval to poll)."""

    decision: Literal["allow", "deny", "approval_required"]
    reservation: ReservationOut | None = None
    approval: ApprovalOut | None = None
    reason: str | None = None
    budget: DeniedBy | None = None
    policy: list[PolicyViolationOut] | None = Field(None, description=(
        "deny by the tag policy: each deny rule the call breaks"))


class ApprovalDecisionIn(_Strict):
    """A human's decision on a pending approval."""

    decision: Literal["approve", "deny"]
