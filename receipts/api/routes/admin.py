"""Admin routes: agents (and resuming a suspended one), role tokens and FX rates (writes: admin
token only; the agent and FX listings: admin or finance)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request

from receipts.api.access_schemas import (
    RoleTokenCreated,
    RoleTokenIn,
    RoleTokenList,
    RoleTokenRevoked,
)
from receipts.api.admin_schemas import (
    DATE_PATTERN,
    AgentCreated,
    AgentIn,
    AgentList,
    AgentResumed,
    AgentRevoked,
    FxIn,
    FxRateOut,
    FxRates,
)
from receipts.api.body_reading import authenticating_router
from receipts.api.dependencies import (
    AdminPrincipal,
    AllTeamsPrincipal,
    authenticate_admin,
    context,
)
from receipts.api.errors import json_response
from receipts.api.openapi import ADMIN_ONLY, ALL_TEAMS, errors
from receipts.budgets.raw import Raw
from receipts.clock import now_ms
from receipts.deployment import suspensions
from receipts.deployment.role_tokens import create_role_token, revoke_role_token
from receipts.deployment.runtime import create_agent, publish_fx_rate
from receipts.storage import queries as store
from verifier.jsonview import iso_ms
from verifier.money import FX_RATE_SCALE, format_amount
from verifier.pricing import FxRate

router = authenticating_router("admin", authenticate_admin)
"""Its routes with a body need the admin token, checked before the body is read."""

Admin = AdminPrincipal
WHY = {403: "an agent key, a finance or a team token (this needs the admin token)"}
READ_WHY = {403: "an agent key or a team token (this needs the admin or a finance token)"}


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


def _listed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored credentials (agent keys, role tokens) as listed: times in RFC 3339."""
    for row in rows:
        row["created_at"] = iso_ms(row["created_at"])
        row["revoked_at"] = iso_ms(row["revoked_at"]) if row["revoked_at"] else None
    return rows


@router.get("/agents", response_model=AgentList, responses=errors(401, 403, why=READ_WHY),
            openapi_extra=ALL_TEAMS)
def list_agents_route(request: Request, _reader: AllTeamsPrincipal) -> Any:
    """Every agent (never a key or its hash)."""
    with context(request).runtime.db.read() as conn:
        agents = _listed(store.list_agents(conn))
        suspended = suspensions.active(Raw.of(conn))
    for row in agents:
        found = suspended.get(row["id"])
        row["suspension"] = found.json() if found is not None else None
    return json_response({"agents": agents})


@router.post("/agents/{agent_id}/resume", response_model=AgentResumed, responses=errors(
    401, 403, 404, 409, 422, why={**WHY, 404: "no such agent", 409: "the agent is not "
                                  "suspended"}), openapi_extra=ADMIN_ONLY)
def resume_agent_route(agent_id: Annotated[str, Path(min_length=1, max_length=64)],
                       request: Request, _admin: Admin) -> Any:
    """End an agent key's suspension (made by an anomaly alert): it writes receipts and asks
    authorizations again. The suspension stays on record, with when it was resumed."""
    ctx = context(request)
    with ctx.runtime.db.write() as conn:
        ended = suspensions.resume(Raw.of(conn), agent_id, by="admin", now=now_ms())
    ctx.auth.forget_suspensions()  # (this worker at once; the others within a second)
    return json_response({"id": agent_id, "suspended": False, "suspension": ended.json()})


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


@router.get("/fx", response_model=FxRates, responses=errors(401, 403, why=READ_WHY),
            openapi_extra=ALL_TEAMS)
def list_fx(request: Request, _reader: AllTeamsPrincipal) -> Any:
    """Every published FX rate, in publication order (admin or finance: an agent key reads the
    rate each of its receipts used in the receipt itself)."""
    with context(request).runtime.db.read() as conn:
        rates = store.fx_rates(conn)
    return json_response({"rates": [_rate_json(r) for r, _ in rates]})


@router.post("/tokens", status_code=201, response_model=RoleTokenCreated, responses={
    201: {"description": "the new role token (its secret in this response only)",
          "links": {"RevokeToken": {
              "operationId": "revoke_token", "parameters": {"token_id": "$response.body#/id"},
              "description": "Revoke the token just created."}}},
    **errors(401, 403, 413, 422, why={**WHY, 422: (
        "invalid field(s), each named in error.fields: a team token without team, a "
        "finance token with one")})}, openapi_extra=ADMIN_ONLY)
def create_token_route(body: RoleTokenIn, request: Request, _admin: Admin) -> Any:
    """A new read-only role token: ``finance`` reads every team, ``team`` one team."""
    token, secret = create_role_token(context(request).runtime, body.role, body.team,
                                      body.name)
    return json_response({"id": token.id, "role": token.role, "team": token.team,
                          "name": body.name, "token": secret}, 201)


@router.get("/tokens", response_model=RoleTokenList, responses=errors(401, 403, why=WHY),
            openapi_extra=ADMIN_ONLY)
def list_tokens_route(request: Request, _admin: Admin) -> Any:
    """Every role token (never the token or its hash)."""
    with context(request).runtime.db.read() as conn:
        return json_response({"tokens": _listed(store.list_role_tokens(conn))})


@router.delete("/tokens/{token_id}", response_model=RoleTokenRevoked, operation_id="revoke_token",
               responses=errors(401, 403, 404, 409, 422, why={
                   **WHY, 404: "no such token", 409: "the token is already revoked"}),
               openapi_extra=ADMIN_ONLY)
def revoke_token_route(token_id: str, request: Request, _admin: Admin) -> Any:
    """Revoke a role token: it reads nothing from now on (401, as an unknown token)."""
    revoke_role_token(context(request).runtime, token_id)
    return json_response({"id": token_id, "revoked": True})
