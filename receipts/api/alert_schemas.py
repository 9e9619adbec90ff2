"""Request and response models of the alert routes (``/v1/alert-channels``, ``/v1/alerts``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from receipts.alerts.channels import MAX_SECRET, MAX_URL
from receipts.api.schemas import NO_NUL

ChannelKind = Literal["webhook", "slack", "pagerduty"]


class AlertChannelIn(BaseModel):
    """A channel alerts are delivered to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ChannelKind = Field(description=(
        "webhook: a JSON POST signed with HMAC-SHA256 (X-Receipts-Signature) over the "
        "timestamp (X-Receipts-Timestamp) and body; slack: an incoming-webhook message; "
        "pagerduty: an Events API v2 trigger event with the alert's dedup_key."))
    url: Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL), NO_NUL] = Field(
        description="An http(s) URL: the receiver, the Slack incoming-webhook URL, or the "
                    "PagerDuty events endpoint (https://events.pagerduty.com/v2/enqueue).")
    secret: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SECRET),
                      NO_NUL] | None = Field(None, description=(
                          "webhook: the signing secret (at least 16 characters; required); "
                          "pagerduty: the integration's routing key (required); slack: none. "
                          "Stored encrypted, never returned."))


class AlertChannelOut(BaseModel):
    """A channel as listed: ``url`` without credentials (a Slack URL shows only its origin);
    the secret is never returned."""

    id: str
    kind: str
    url: str
    has_secret: bool
    created_at: str


class AlertChannelList(BaseModel):
    """The channels alerts go to now."""

    channels: list[AlertChannelOut]


class AlertChannelRemoved(BaseModel):
    """The channel no longer receives alerts (its deliveries stay on record)."""

    id: str
    removed: bool


class DeliveryOut(BaseModel):
    """One alert's delivery to one channel; ``id`` is the event id every attempt carries."""

    id: str
    channel: str
    kind: str | None
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: str
    next_attempt_at: str | None
    delivered_at: str | None
    failed_at: str | None


class AlertOut(BaseModel):
    """An alert, its deliveries, and their summed-up status."""

    id: str
    kind: str
    scope: str
    dedup_key: str
    created_at: str
    payload: dict[str, Any]
    status: Literal["pending", "delivered", "failed"]
    deliveries: list[DeliveryOut]


class AlertList(BaseModel):
    """The newest alerts first."""

    alerts: list[AlertOut]


class AlertRequeued(BaseModel):
    """How many failed deliveries of the alert are queued again."""

    id: str
    requeued: int
