"""Budget routes: budgets (set and delete: admin; read: admin, finance, a team token for its
team's), pre-flight authorization (agent, judged by the tag policy first), approvals (read: the
agent that asked, the admin, finance or the team's token; decide: the admin or the team's
token)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from receipts.api.body_reading import authenticated_first
from receipts.api.budget_schemas import (
    ApprovalDecisionIn,
    ApprovalOut,
    AuthorizeIn,
    AuthorizeOut,
    BudgetDeleted,
    BudgetIn,
    BudgetList,
    BudgetOut,
)
from receipts.api.dependencies import (
    ApproverScope,
    ReaderScope,
    authenticate_admin,
    authenticate_for,
    authenticate_writer,
    context,
)
from receipts.api.errors import json_response
from receipts.api.openapi import ADMIN_ONLY, AGENT_ONLY, ANY_TOKEN, APPROVERS, READERS, errors
from receipts.api.routes.receipts import Reader, Writer
from receipts.budgets import approvals, authorize, manage
from receipts.budgets.asking import ask_for
from receipts.budgets.definition import parse_budget
from receipts.budgets.gate import Gate, refresh_when_changed
from receipts.budgets.raw import Raw
from receipts.budgets.reservations import Ask
from receipts.clock import now_ms
from receipts.deployment.credentials import ADMIN, TEAM, Principal
from receipts.deployment.runtime import Runtime
from receipts.errors import AgentSuspended, Forbidden, NotFound
from verifier.money import COST_SCALE

agent_router = APIRouter(prefix="/v1", tags=["budgets"],
                         route_class=authenticated_first(authenticate_writer))
admin_router = APIRouter(prefix="/v1", tags=["budgets"],
                         route_class=authenticated_first(authenticate_admin))
approver_router = APIRouter(prefix="/v1", tags=["budgets"],
                            route_class=authenticated_first(authenticate_for(ADMIN, TEAM)))
"""Deciding approvals: the admin or the team's token, checked before the body is read."""
ADMIN_WHY = {403: "an agent key, a finance or a team token (this needs the admin token)"}
ID = Annotated[str, Path(min_length=1, max_length=64)]


def budget_admin(principal: Reader) -> Principal:
    """Who may set and delete budgets and decide approvals."""
    if not principal.is_admin:
        raise Forbidden("this needs the admin token")
    return principal


BudgetAdmin = Annotated[Principal, Depends(budget_admin)]


def _currency(runtime: Runtime) -> str:
    return runtime.facts.reporting_currency


def gate_of(request: Request) -> Gate:
    """This process's authorization queue (made at the first authorization)."""
    gate: Gate | None = getattr(request.app.state, "budget_gate", None)
    if gate is None:
        runtime = context(request).runtime
        gate = Gate(runtime.db, _currency(runtime),
                    refresh_when_changed(runtime.service.pricing))
        request.app.state.budget_gate = gate
    return gate


@admin_router.post("/budgets", status_code=201, response_model=BudgetOut, responses={
    200: {"model": BudgetOut, "description": "an existing budget of that name, replaced"},
    **errors(401, 403, 413, 422, why=ADMIN_WHY)}, openapi_extra=ADMIN_ONLY)
def set_budget_route(body: BudgetIn, request: Request, _admin: BudgetAdmin) -> Response:
    """Create a budget, or replace the one with the same name. Its spent starts from the
    receipts already in its current period."""
    runtime = context(request).runtime
    fields = parse_budget(body.model_dump(mode="json", by_alias=True))
    budget, created = manage.set_budget(runtime.db, fields, _currency(runtime))
    with runtime.db.read() as conn:
        shown = manage.status(Raw.of(conn), budget, now_ms(), _currency(runtime))
    return json_response(shown, 201 if created else 200)


@admin_router.get("/budgets", response_model=BudgetList, responses=errors(401, 403, why={
    403: "an agent key (this needs the admin, a finance or a team token)"}),
    openapi_extra=READERS)
def list_budgets_route(request: Request, scope: ReaderScope) -> Response:
    """Every budget with its current period's spent, reserved, remaining and forecast (a team
    token: the budgets whose scope names its team)."""
    runtime = context(request).runtime
    budgets = manage.list_budgets(runtime.db, _currency(runtime))
    return json_response({"budgets": [b for b in budgets if scope.sees(b["scope"].get("team"))]})


@admin_router.delete("/budgets/{budget}", response_model=BudgetDeleted, responses=errors(
    401, 403, 404, 422, why={**ADMIN_WHY, 404: "no budget of that name or id"}),
    openapi_extra=ADMIN_ONLY)
def delete_budget_route(budget: Annotated[str, Path(min_length=1, max_length=256)],
                        request: Request, _admin: BudgetAdmin) -> Response:
    """Delete a budget (by name or id) and its counters; its reservations stop holding."""
    gone = manage.delete_budget(context(request).runtime.db, budget)
    return json_response({"id": gone.id, "name": gone.name, "deleted": True})



def estimate_and_policy(body: AuthorizeIn, agent: Writer, request: Request
                        ) -> tuple[Ask, dict[str, Any] | None]:
    """What an authorization asks (the estimate in the reporting currency) and the tag
    policy's refusal, if any: the steps before the budgets' transaction (the model as sent:
    the same name the receipt-time check sees)."""
    ask = ask_for(context(request).runtime.service, agent, provider=body.provider,
                  model=body.model, tags=dict(body.tags), request_id=body.request_id,
                  max_input_tokens=body.max_input_tokens,
                  max_output_tokens=body.max_output_tokens,
                  estimated_cost=body.estimated_cost, hold_seconds=body.hold_seconds)
    denied = context(request).policies.preflight(
        body.provider, body.model, ask.tags, Decimal(ask.estimate).scaleb(-COST_SCALE))
    return ask, denied

@agent_router.post("/authorize", response_model=AuthorizeOut, responses=errors(
    401, 403, 413, 422, 503, why={
        403: "the admin token (authorizations are asked with an agent key), tags that "
             "contradict the agent's bound team or tags, or a suspended agent key "
             "(code agent_suspended)",
        422: "invalid field(s), each named in error.fields: neither or both of the token "
             "maxima and estimated_cost, a model the price book cannot price without "
             "estimated_cost"}), openapi_extra=AGENT_ONLY)
async def authorize_route(body: AuthorizeIn, agent: Writer, request: Request) -> Response:
    """Ask before an LLM call whether the tag policy lets it through and the budgets covering
    it have room: ``allow`` (the estimate is held against each of them until the receipt naming
    the reservation settles it, or it expires), ``deny`` (which policy rules or budget, why) or
    ``approval_required`` (poll the approval)."""
    ask, denied = estimate_and_policy(body, agent, request)
    if denied is not None:
        return json_response(denied)
    answer = await gate_of(request).submit(ask)
    if answer.decision == authorize.SUSPENDED:
        raise AgentSuspended(answer.body["error"])
    return json_response(answer.body)


def _approval_json(found: approvals.Approval) -> dict[str, Any]:
    shown: dict[str, Any] = approvals.body(found)["approval"]
    return shown


@admin_router.get("/approvals/{approval_id}", response_model=ApprovalOut, responses=errors(
    401, 404, 422, why={404: "no such approval, or not this agent's or team's"}),
    openapi_extra=ANY_TOKEN)
def get_approval_route(approval_id: ID, request: Request, principal: Reader) -> Response:
    """An approval's status (the agent that asked polls it; a team token reads its team's; the
    admin and finance tokens read any)."""
    with context(request).runtime.db.read() as conn:
        found = approvals.fetch(Raw.of(conn), approval_id)
    if found is None or (principal.agent is not None and principal.agent.id != found.agent_id) \
            or (principal.team is not None and found.ask().tags.get("team") != principal.team):
        raise NotFound(f"no approval {approval_id!r}")
    return json_response(_approval_json(found))


@approver_router.post("/approvals/{approval_id}", response_model=ApprovalOut, responses=errors(
    401, 403, 404, 409, 413, 422, why={
        403: "an agent key or a finance token (this needs the admin or the team's token)",
        404: "no such approval, or not of this team token's team",
        409: "already decided, or a deny budget has no room left for the call"}),
    openapi_extra=APPROVERS)
async def decide_approval_route(approval_id: ID, body: ApprovalDecisionIn, request: Request,
                                scope: ApproverScope) -> Response:
    """Approve (the call's estimate is held, and the agent's reservation is in the approval)
    or deny a pending approval (a team token: its team's calls only)."""
    runtime = context(request).runtime

    def run() -> approvals.Approval:
        with runtime.db.write() as conn:
            if scope.team is not None:
                found = approvals.fetch(Raw.of(conn), approval_id)
                if found is None or not scope.sees(found.ask().tags.get("team")):
                    raise NotFound(f"no approval {approval_id!r}")
            return authorize.resolve_approval(Raw.of(conn), approval_id,
                                              body.decision == "approve", now_ms(),
                                              _currency(runtime))

    return json_response(_approval_json(await run_in_threadpool(run)))
