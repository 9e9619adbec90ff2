"""Alert routes: channels (admin token), alerts with the state of their deliveries (admin,
finance, or a team token for its team's alerts), retrying an alert's failed deliveries (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request

from receipts.alerts.channels import Channel, add_channel, list_channels, remove_channel
from receipts.alerts.listing import Status, list_alert_views
from receipts.alerts.outbox import retry_failed
from receipts.alerts.sealing import Sealer
from receipts.alerts.store import get_alert
from receipts.api.alert_schemas import (
    AlertChannelIn,
    AlertChannelList,
    AlertChannelOut,
    AlertChannelRemoved,
    AlertList,
    AlertRequeued,
)
from receipts.api.body_reading import authenticating_router
from receipts.api.dependencies import ReaderScope, authenticate_admin, context
from receipts.api.errors import json_response
from receipts.api.openapi import ADMIN_ONLY, READERS, errors
from receipts.api.routes.admin import WHY, Admin
from receipts.clock import now_ms
from receipts.errors import NotFound
from verifier.jsonview import iso_ms

router = authenticating_router("alerts", authenticate_admin)


def channel_json(channel: Channel) -> dict[str, Any]:
    """A channel as the API and CLI list it (never its secret)."""
    return {"id": channel.id, "kind": channel.kind, "url": channel.display_url,
            "has_secret": channel.has_secret, "created_at": iso_ms(channel.created_at)}


@router.post("/alert-channels", status_code=201, response_model=AlertChannelOut, responses={
    201: {"description": "the new channel (its secret is not returned)", "links": {
        "RemoveAlertChannel": {"operationId": "remove_alert_channel",
                               "parameters": {"channel_id": "$response.body#/id"},
                               "description": "Remove the channel just added."}}},
    **errors(401, 403, 413, 422, why={**WHY, 422: (
        "invalid input, each field named in error.fields: a URL that is not http(s), a "
        "webhook without a signing secret of at least 16 characters, a PagerDuty channel "
        "without its routing key, a secret for Slack")})}, openapi_extra=ADMIN_ONLY)
def add_channel_route(body: AlertChannelIn, request: Request, _admin: Admin) -> Any:
    """Add a channel: every alert raised from now on (and any raised while no channel
    existed) is delivered to it, at least once, with retries."""
    runtime = context(request).runtime
    with runtime.db.write() as conn:
        channel = add_channel(conn, Sealer(runtime.signer), body.kind, body.url, body.secret,
                              now_ms())
    return json_response(channel_json(channel), 201)


@router.get("/alert-channels", response_model=AlertChannelList,
            responses=errors(401, 403, why=WHY), openapi_extra=ADMIN_ONLY)
def list_channels_route(request: Request, _admin: Admin) -> Any:
    """The channels alerts go to (URLs without credentials; secrets never)."""
    with context(request).runtime.db.read() as conn:
        channels = list_channels(conn)
    return json_response({"channels": [channel_json(c) for c in channels]})


@router.delete("/alert-channels/{channel_id}", response_model=AlertChannelRemoved,
               operation_id="remove_alert_channel",
               responses=errors(401, 403, 404, 409, 422, why={
                   **WHY, 404: "no such channel", 409: "the channel is already removed"}),
               openapi_extra=ADMIN_ONLY)
def remove_channel_route(channel_id: str, request: Request, _admin: Admin) -> Any:
    """Stop delivering to a channel; its pending deliveries end as failed (channel removed),
    and every delivery stays listed under its alert."""
    with context(request).runtime.db.write() as conn:
        remove_channel(conn, channel_id, now_ms())
    return json_response({"id": channel_id, "removed": True})


@router.get("/alerts", response_model=AlertList, responses=errors(401, 403, 422, why={
    403: "an agent key, or a team token asking for another team"}), openapi_extra=READERS)
def list_alerts_route(
    request: Request, scope: ReaderScope,
    status: Annotated[Status | None, Query(description=(
        "only alerts with this status: failed (a delivery gave up), delivered (every "
        "channel answered 2xx), pending (the rest)"))] = None,
    team: Annotated[str | None, Query(description=(
        "only alerts whose scope names team=TEAM (a team token: its own team, the "
        "default)"))] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """The newest alerts first, each with its deliveries (attempts, last error, state). The
    admin and finance tokens read every alert; a team token those whose scope names its
    team (``team=search``, ``team=search,project=ranker``)."""
    with context(request).runtime.db.read() as conn:
        views = list_alert_views(conn, limit, status, scope.team_filter(team))
    return json_response({"alerts": views})


@router.post("/alerts/{alert_id}/retry", response_model=AlertRequeued,
             responses=errors(401, 403, 404, 422, why={**WHY, 404: "no such alert"}),
             openapi_extra=ADMIN_ONLY)
def retry_alert_route(alert_id: str, request: Request, _admin: Admin) -> Any:
    """Queue an alert's failed deliveries again (channels still in place; same event ids)."""
    with context(request).runtime.db.write() as conn:
        if get_alert(conn, alert_id) is None:
            raise NotFound(f"no alert {alert_id}")
        requeued = retry_failed(conn, alert_id, now_ms())
    return json_response({"id": alert_id, "requeued": requeued})
