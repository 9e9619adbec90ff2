"""Admin routes (admin token only): agents and FX rates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from receipts.api.body_reading import authenticated_first
from receipts.api.dependencies import authenticate_admin, context
from receipts.api.errors import json_response
from receipts.api.openapi import ADMIN_ONLY, errors
from receipts.api.routes.receipts import Reader
from receipts.api.schemas import (
    DATE_PATTERN,
    AgentCreated,
    AgentIn,
    AgentList,
    AgentRevoked,
    FxIn,
    FxRateOut,
    FxRates,
)
from receipts.clock import now_ms
from receipts.deployment.credentials import Principal
from receipts.deployment.runtime import create_agent, publish_fx_rate
from receipts.errors import Forbidden
from receipts.storage import queries as store
from verifier.jsonview import iso_ms
from verifier.money import FX_RATE_SCALE, format_amount
from verifier.pricing import FxRate

router = APIRouter(prefix="/v1", tags=["admin"],
                   route_class=authenticated_first(authenticate_admin))
"""Its routes with a body need the admin token, checked before the body is read."""


def admin(principal: Reader) -> Principal:
    """Only the admin token passes."""
    if not principal.is_admin:
        raise Forbidden("this needs the admin token")
    return principal


Admin = Annotated[Principal, Depends(admin)]
WHY = {403: "an agent key (this needs the admin token)"}


@router.post("/agents", status_code=201, response_model=AgentCreated, responses={
    201: {"description": "the new agent and its key", "links": {"RevokeAgent": {
        "operationId": "revoke_agent", "parameters": {"agent_id": "$response.body#/id"},
        "description": "Revoke the key just created."}}},
    **errors(401, 403, 413, 422, why=WHY)}, openapi_extra=ADMIN_ONLY)
def create_agent_route(body: AgentIn, request: Request, _admin: Admin) -> Any:
    """A new agent key bound to a team and tags. The key is in this response only."""
    agent, key = create_agent(context(request).runtime, body.team, dict(body.tags))
    return json_response({"id": agent.id, "team": agent.team, "tags": dict(agent.tags),
                          "key": key}, 201)


@router.get("/agents", response_model=AgentList, responses=errors(401, 403, why=WHY),
            openapi_extra=ADMIN_ONLY)
def list_agents_route(request: Request, _admin: Admin) -> Any:
    """Every agent (never a key or its hash)."""
    with context(request).runtime.db.read() as conn:
        agents = store.list_agents(conn)
    for a in agents:
        a["created_at"] = iso_ms(a["created_at"])
        a["revoked_at"] = iso_ms(a["revoked_at"]) if a["revoked_at"] else None
    return json_response({"agents": agents})


@router.delete("/agents/{agent_id}", response_model=AgentRevoked, operation_id="revoke_agent",
               responses=errors(401, 403, 404, 409, 422, why={
                   **WHY, 404: "no such agent", 409: "the agent is already revoked"}),
               openapi_extra=ADMIN_ONLY)
def revoke_agent_route(agent_id: str, request: Request, _admin: Admin) -> Any:
    """Revoke an agent key: it gets no receipt and reads nothing from now on."""
    with context(request).runtime.db.write() as conn:
        store.revoke_agent(conn, agent_id, now_ms())
    return json_response({"id": agent_id, "revoked": True})


def _rate_json(rate: FxRate) -> dict[str, Any]:
    return {"base": rate.base, "quote": rate.quote, "date": rate.date,
            "rate": format_amount(rate.rate, FX_RATE_SCALE), "source": rate.source,
            "published_at": iso_ms(rate.published_at)}


@router.put("/fx/{date}", status_code=201, response_model=FxRateOut,
            responses=errors(401, 403, 413, 422, why={**WHY, 422: (
                "invalid input, each field named in error.fields: a date that does not exist, "
                "a zero rate, a quote other than the reporting currency, base equal to quote")}),
            openapi_extra=ADMIN_ONLY)
def put_fx(date: Annotated[str, Path(pattern=DATE_PATTERN, description="YYYY-MM-DD (UTC)")],
           body: FxIn, request: Request, _admin: Admin) -> Any:
    """Publish the rate for ``date`` (a correction is a new publication; the latest wins for
    receipts issued after it, and earlier receipts keep the rate they were issued with)."""
    rate = publish_fx_rate(context(request).runtime, date, body.rate, base=body.base,
                           quote=body.quote, source=body.source)
    return json_response(_rate_json(rate), 201)


@router.get("/fx", response_model=FxRates, responses=errors(401, 403, why=WHY),
            openapi_extra=ADMIN_ONLY)
def list_fx(request: Request, _admin: Admin) -> Any:
    """Every published FX rate, in publication order (admin only: an agent key reads the rate
    each of its receipts used in the receipt itself)."""
    with context(request).runtime.db.read() as conn:
        rates = store.fx_rates(conn)
    return json_response({"rates": [_rate_json(r) for r, _ in rates]})
