"""The admin endpoints' models: agent keys (create, list, revoke) and published FX rates."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from receipts.api.schemas import (
    MAX_TAGS,
    Tags,
    TagValue,
    Text,
    _Strict,
)


class AgentIn(_Strict):
    """A new agent key bound to a team and tags."""

    team: TagValue = Field(min_length=1)
    tags: Tags = Field(default_factory=dict, max_length=MAX_TAGS)


RATE_PATTERN = r"^[0-9]+(\.[0-9]{1,9})?$"
"""An FX rate as text: a plain decimal with at most 9 decimals (the format's 10^-9 scale), so
it is stored exactly; floats such as ``1e-3`` are refused, not rounded."""


class FxIn(_Strict):
    """A daily FX rate: ``rate`` units of ``quote`` per one ``base`` (decimal string)."""

    rate: Annotated[str, StringConstraints(pattern=RATE_PATTERN, max_length=32)] = Field(
        description="Positive; at most 9 decimals.")
    base: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(
        None, description="Default: the currency of the price book in force. Must differ "
                          "from quote.")
    quote: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(
        None, description="Must be the deployment's reporting currency (the default): "
                          "receipts convert only to it.")
    source: Text = "manual"


DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
"""A calendar date, YYYY-MM-DD (one that does not exist, such as 2026-02-30, is a 422 too)."""


class SuspensionOut(BaseModel):
    """An agent key's suspension: since when, by whom (``anomaly alert``, or the admin), why,
    the alert that made it; once resumed, when and by whom."""

    id: str
    agent: str
    since: str
    by: str
    reason: str
    alert: str | None
    resumed_at: str | None
    resumed_by: str | None


class AgentOut(BaseModel):
    """An agent as listed: never its key or the key's hash; ``suspension``: the one in force."""

    id: str
    team: str
    tags: dict[str, str]
    created_at: str
    revoked_at: str | None
    suspension: SuspensionOut | None


class AgentResumed(BaseModel):
    """The agent whose suspension ended, and that suspension."""

    id: str
    suspended: bool
    suspension: SuspensionOut


class AgentList(BaseModel):
    """Every agent, revoked ones included."""

    agents: list[AgentOut]


class AgentCreated(BaseModel):
    """A new agent and its key (shown in this response only; stored as a hash)."""

    id: str
    team: str
    tags: dict[str, str]
    key: str


class AgentRevoked(BaseModel):
    """The agent whose key was revoked."""

    id: str
    revoked: bool


class FxRateOut(BaseModel):
    """A published FX rate (``rate`` units of ``quote`` per ``base``, 9 decimals)."""

    base: str
    quote: str
    date: str
    rate: str
    source: str
    published_at: str


class FxRates(BaseModel):
    """Every published rate, in publication order."""

    rates: list[FxRateOut]
