"""Policy routes: read the policy in force and its versions, set a new one (admin), list the
flags raised on receipts (scoped like every read: a team token sees its team's)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request

from receipts.api.body_reading import authenticating_router
from receipts.api.dependencies import (
    AdminPrincipal,
    ReaderScope,
    authenticate_admin,
    context,
    principal_of,
)
from receipts.api.errors import json_response
from receipts.api.openapi import ADMIN_ONLY, ANY_TOKEN, READERS, errors
from receipts.api.policy_schemas import PolicyFlags, PolicyIn, PolicyOut, PolicyVersions
from receipts.clock import now_ms
from receipts.errors import NotFound
from receipts.policies import store
from receipts.policies.rules import parse_policy
from receipts.policies.store import PolicyVersion
from verifier.jsonview import iso_ms

router = authenticating_router("policy", authenticate_admin)
"""``PUT /v1/policy`` needs the admin token, checked before the body is read."""


def version_json(v: PolicyVersion | None) -> dict[str, Any]:
    """A version as the API shows it (an empty policy when none was ever set)."""
    if v is None:
        return {"version": 0, "sha256": None, "format": None, "created_at": None, "rules": [],
                "source": None}
    return {"version": v.version, "sha256": v.sha256, "format": v.format,
            "created_at": iso_ms(v.created_at), "rules": v.policy.as_json(), "source": v.source}


@router.get("/policy", response_model=PolicyOut, responses=errors(
    401, 404, 422, why={404: "no such version"}), openapi_extra=ANY_TOKEN)
def get_policy(request: Request,
               version: Annotated[int | None, Query(ge=1, le=2**31 - 1, description=(
                   "A stored version (default: the one in force)"))] = None) -> Any:
    """The policy in force (or ``version``): its rules, source text, SHA-256 and time. Any
    valid credential reads it, so agents can check a call before making it."""
    principal_of(request)
    with context(request).runtime.db.read() as conn:
        found = store.current(conn) if version is None else store.version(conn, version)
    if version is not None and found is None:
        raise NotFound(f"no policy version {version}")
    return json_response(version_json(found))


@router.get("/policy/versions", response_model=PolicyVersions, responses=errors(401),
            openapi_extra=ANY_TOKEN)
def list_versions(request: Request) -> Any:
    """Every version: number, SHA-256, format, time and number of rules."""
    principal_of(request)
    with context(request).runtime.db.read() as conn:
        listed = store.versions(conn)
    for v in listed:
        v["created_at"] = iso_ms(v["created_at"])
    return json_response({"versions": listed})


@router.put("/policy", status_code=201, response_model=PolicyOut, responses=errors(
    401, 403, 413, 422, why={
        403: "an agent key, a finance or a team token (this needs the admin token)",
        422: "a rule that is not valid, named in error.fields (rules.N.field)"}),
    openapi_extra=ADMIN_ONLY)
def put_policy(body: PolicyIn, request: Request, _admin: AdminPrincipal) -> Any:
    """Store a new policy version (in force at once here, within seconds on every worker)."""
    policy = parse_policy({"rules": body.rules})
    ctx = context(request)
    with ctx.runtime.db.write() as conn:
        stored = store.add_policy(conn, policy, now_ms())
    ctx.policies.use(stored)
    return json_response(version_json(stored), 201)


@router.get("/policy/flags", response_model=PolicyFlags, responses=errors(
    401, 403, 422, why={403: "an agent key, or a team token filtering on another team"}),
    openapi_extra=READERS)
def list_flags(scope: ReaderScope, request: Request, team: str | None = None,
               receipt_id: str | None = None, rule: str | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:
    """Flags raised on receipts by ``flag`` rules, newest first (a team token: its team's)."""
    with context(request).runtime.db.read() as conn:
        flags = store.list_flags(conn, team=scope.team_filter(team), receipt_id=receipt_id,
                                 rule=rule, limit=limit)
    for f in flags:
        f["created_at"] = iso_ms(f["created_at"])
    return json_response({"flags": flags})
