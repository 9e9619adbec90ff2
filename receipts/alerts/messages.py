"""What each channel kind is sent for an alert: the body, its headers and the webhook signature.

Every attempt of one delivery carries the same event id (``X-Receipts-Event-Id``, the
delivery's id) and the same body, so a receiver drops a duplicate however often it arrives; a
PagerDuty event carries the alert's ``dedup_key`` (PagerDuty itself folds repeats into one
incident). Slack incoming webhooks have no dedup of their own: a message can appear twice in
the rare case where a worker dies after Slack accepted it and before the 2xx was recorded.

Webhook signature: ``X-Receipts-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>``
with ``X-Receipts-Timestamp`` (Unix seconds of this attempt). A receiver recomputes it over the
raw body, compares in constant time, refuses a timestamp more than 5 minutes away from its clock
(a replayed request) and drops an event id it has already processed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from receipts import __version__
from receipts.alerts.store import Alert
from verifier.jsonview import iso_ms

EVENT_ID_HEADER = "X-Receipts-Event-Id"
TIMESTAMP_HEADER = "X-Receipts-Timestamp"
SIGNATURE_HEADER = "X-Receipts-Signature"
ATTEMPT_HEADER = "X-Receipts-Attempt"
SIGNATURE_VERSION = "v1"
REPLAY_WINDOW_SECONDS = 300
"""What the README tells receivers to allow between the timestamp and their clock."""

PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
_PD_DEDUP_MAX = 255  # (PagerDuty's limit on dedup_key)
_SLACK_HEADER_MAX = 150
_SLACK_TEXT_MAX = 3000
_SLACK_FIELDS_MAX = 10


@dataclass(frozen=True)
class Request:
    """One HTTP POST to a channel."""

    url: str
    body: bytes
    headers: dict[str, str]


def _json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def summary(alert: Alert) -> str:
    """One line for people: the payload's ``summary`` (or ``message``), else kind and scope."""
    for key in ("summary", "message"):
        text = alert.payload.get(key)
        if isinstance(text, str) and text:
            return text
    return f"{alert.kind} alert: {alert.scope}"


def alert_json(alert: Alert) -> dict[str, Any]:
    """The alert as every channel and ``GET /v1/alerts`` show it."""
    return {"id": alert.id, "kind": alert.kind, "scope": alert.scope,
            "dedup_key": alert.dedup_key, "created_at": iso_ms(alert.created_at),
            "payload": alert.payload}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook signature header's value over ``timestamp`` and the raw ``body``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify_signature(secret: str, timestamp: str, body: bytes, header: str, now_s: int,
                     window_s: int = REPLAY_WINDOW_SECONDS) -> bool:
    """What a receiver does (the README's recipe, and the tests' receiver)."""
    try:
        fresh = abs(now_s - int(timestamp)) <= window_s
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), header)


def _base_headers(event_id: str, attempt: int) -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": f"receipts/{__version__}",
            EVENT_ID_HEADER: event_id, ATTEMPT_HEADER: str(attempt)}


def webhook(url: str, secret: str, alert: Alert, event_id: str, attempt: int,
            now_s: int) -> Request:
    """A signed JSON POST: ``{"event_id", "type": "alert", "alert": {...}}``."""
    body = _json({"event_id": event_id, "type": "alert", "alert": alert_json(alert)})
    timestamp = str(now_s)
    headers = {**_base_headers(event_id, attempt), TIMESTAMP_HEADER: timestamp,
               SIGNATURE_HEADER: sign(secret, timestamp, body)}
    return Request(url, body, headers)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _detail(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def slack(url: str, alert: Alert, event_id: str, attempt: int) -> Request:
    """An incoming-webhook message: ``text`` (notifications) and Block Kit ``blocks``."""
    text = summary(alert)
    details = [(k, v) for k, v in sorted(alert.payload.items())
               if k not in ("summary", "message")]
    fields = [{"type": "mrkdwn", "text": _cut(f"*{k}*\n{_detail(v)}", 2000)}
              for k, v in details[:_SLACK_FIELDS_MAX]]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "emoji": False,
                                    "text": _cut(f"{alert.kind}: {alert.scope}",
                                                 _SLACK_HEADER_MAX)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, _SLACK_TEXT_MAX)}},
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(
        f"alert {alert.id} · raised {iso_ms(alert.created_at)} · event {event_id}",
        _SLACK_TEXT_MAX)}]})
    return Request(url, _json({"text": _cut(text, _SLACK_TEXT_MAX), "blocks": blocks}),
                   _base_headers(event_id, attempt))


def pagerduty_dedup_key(alert: Alert) -> str:
    """The alert's ``dedup_key``, or a digest of it past PagerDuty's 255 characters."""
    if len(alert.dedup_key) <= _PD_DEDUP_MAX:
        return alert.dedup_key
    return "sha256:" + hashlib.sha256(alert.dedup_key.encode()).hexdigest()


def pagerduty(url: str, routing_key: str, alert: Alert, event_id: str, attempt: int,
              source: str) -> Request:
    """An Events API v2 ``trigger`` event with the alert's dedup key."""
    severity = alert.payload.get("severity")
    event = {
        "routing_key": routing_key, "event_action": "trigger",
        "dedup_key": pagerduty_dedup_key(alert), "client": "receipts",
        "payload": {
            "summary": _cut(summary(alert), 1024), "source": source,
            "severity": severity if severity in PAGERDUTY_SEVERITIES else "warning",
            "timestamp": iso_ms(alert.created_at), "component": alert.scope,
            "group": alert.kind, "class": alert.kind,
            "custom_details": {**alert.payload, "alert_id": alert.id},
        },
    }
    return Request(url, _json(event), _base_headers(event_id, attempt))
