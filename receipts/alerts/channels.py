"""Alert channels: where alerts are delivered (a signed webhook, Slack, PagerDuty).

What ``POST|GET|DELETE /v1/alert-channels`` and ``receipt alerts channel add|list|remove`` both
run. A channel's URL and secret are sealed at rest (:mod:`receipts.alerts.sealing`) and never
returned: listings show ``display_url``, the URL without credentials (a Slack incoming-webhook
URL is itself the credential, so only its origin is shown).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from receipts.alerts.sealing import Sealer
from receipts.alerts.tables import AlertChannelRow, AlertDeliveryRow
from receipts.errors import Conflict, FieldProblem, Invalid, NotFound
from receipts.storage.tables import table

KINDS = ("webhook", "slack", "pagerduty")
MAX_URL = 2048
MIN_WEBHOOK_SECRET = 16
MAX_SECRET = 256

_CHANNEL = table(AlertChannelRow)
_DELIVERY = table(AlertDeliveryRow)


@dataclass(frozen=True)
class Channel:
    """A channel as listed (never its URL's credentials or its secret)."""

    id: str
    kind: str
    display_url: str
    has_secret: bool
    created_at: int
    removed_at: int | None


def _invalid(field: str, reason: str) -> Invalid:
    return Invalid(f"{field}: {reason}", [FieldProblem(field, reason)])


def check_url(url: str) -> None:
    """An absolute http(s) URL with a host, without spaces or control characters."""
    if not url or len(url) > MAX_URL:
        raise _invalid("url", f"must be 1..{MAX_URL} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise _invalid("url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise _invalid("url", "is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _invalid("url", "must be an http:// or https:// URL with a host")


def check_secret(kind: str, secret: str | None) -> None:
    """Webhooks need a signing secret (>= 16 characters), PagerDuty its routing key; a Slack
    incoming-webhook URL carries its own credential, so a secret there is refused."""
    if kind not in KINDS:
        raise _invalid("kind", f"must be one of {', '.join(KINDS)}")
    if kind == "slack":
        if secret is not None:
            raise _invalid("secret", "a Slack incoming-webhook URL is its own credential; "
                                     "send no secret")
        return
    low = MIN_WEBHOOK_SECRET if kind == "webhook" else 1
    what = "the signing secret" if kind == "webhook" else "the PagerDuty routing key"
    if secret is None:
        raise _invalid("secret", f"required: {what}")
    if not low <= len(secret) <= MAX_SECRET or "\x00" in secret:
        raise _invalid("secret", f"{what} must be {low}..{MAX_SECRET} characters, without NUL")


TOKEN_LIKE = 16
"""A path segment this long may be a credential (Teams, Discord and many relays put a token in
the path): listings show it as ``***``."""


def display_url(kind: str, url: str) -> str:
    """The URL without user info, query or token-like path segments (Slack: its origin only,
    since its whole path is the credential). Stored in clear, so it must reveal nothing."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    if kind == "slack":
        return f"{parts.scheme}://{netloc}/..."
    path = "/".join("***" if len(seg) >= TOKEN_LIKE else seg for seg in parts.path.split("/"))
    return f"{parts.scheme}://{netloc}{path}"


def _channel(row: sa.Row[Any]) -> Channel:
    return Channel(row.id, row.kind, row.display_url, bool(row.has_secret), row.created_at,
                   row.removed_at)


def add_channel(conn: Connection, sealer: Sealer, kind: str, url: str, secret: str | None,
                now: int) -> Channel:
    """Store a new channel (422 naming the field for a bad kind, URL or secret)."""
    check_secret(kind, secret)
    check_url(url)
    channel_id = "ch_" + secrets.token_hex(8)
    conn.execute(_CHANNEL.insert().values(
        id=channel_id, kind=kind, display_url=display_url(kind, url),
        sealed=sealer.seal(channel_id, url, secret), has_secret=secret is not None,
        created_at=now, removed_at=None))
    return Channel(channel_id, kind, display_url(kind, url), secret is not None, now, None)


def list_channels(conn: Connection) -> list[Channel]:
    """The channels alerts go to now (removed ones are not listed)."""
    rows = conn.execute(sa.select(_CHANNEL).where(_CHANNEL.c.removed_at.is_(None))
                        .order_by(_CHANNEL.c.created_at, _CHANNEL.c.id)).all()
    return [_channel(r) for r in rows]


def all_channels(conn: Connection) -> dict[str, Channel]:
    """Every channel, removed ones included (to describe past deliveries)."""
    return {r.id: _channel(r) for r in conn.execute(sa.select(_CHANNEL)).all()}


def sealed_channel(conn: Connection, channel_id: str) -> tuple[str, bytes, int | None]:
    """``(kind, sealed, removed_at)`` of a channel, for the delivery worker."""
    row = conn.execute(sa.select(_CHANNEL.c.kind, _CHANNEL.c.sealed, _CHANNEL.c.removed_at)
                       .where(_CHANNEL.c.id == channel_id)).one()
    return row.kind, bytes(row.sealed), row.removed_at


def remove_channel(conn: Connection, channel_id: str, now: int) -> None:
    """Stop delivering to a channel: its pending deliveries end as ``failed`` (channel
    removed); the channel and every delivery stay on record."""
    row = conn.execute(sa.select(_CHANNEL.c.removed_at).where(_CHANNEL.c.id == channel_id)
                       ).one_or_none()
    if row is None:
        raise NotFound(f"no alert channel {channel_id}")
    if row.removed_at is not None:
        raise Conflict(f"alert channel {channel_id} is already removed")
    conn.execute(_CHANNEL.update().where(_CHANNEL.c.id == channel_id).values(removed_at=now))
    conn.execute(_DELIVERY.update()
                 .where(_DELIVERY.c.channel_id == channel_id, _DELIVERY.c.state == "pending")
                 .values(state="failed", failed_at=now, lease_until=None,
                         last_error="channel removed"))
