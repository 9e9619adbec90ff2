"""Allocation routes: record a set (admin) and list every set (admin and finance).

``POST /v1/allocations`` runs what ``receipt allocations set`` runs: the body is converted
exactly, checked with the verifier's rules, signed with the service key and stored beside
every earlier set. A team token reads no set: a set names every team's charges.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from receipts.allocations import store
from receipts.api.allocation_schemas import AllocationSetIn, AllocationSetOut, AllocationSets
from receipts.api.body_reading import authenticating_router
from receipts.api.dependencies import AdminPrincipal, AllTeamsPrincipal, authenticate_admin, context
from receipts.api.errors import json_response
from receipts.api.openapi import ADMIN_ONLY, ALL_TEAMS, errors

router = authenticating_router("allocations", authenticate_admin)
"""``POST /v1/allocations`` needs the admin token, checked before the body is read."""


@router.post("/allocations", status_code=201, response_model=AllocationSetOut,
             responses=errors(401, 403, 409, 413, 422, why={
                 403: "an agent key, a finance or a team token (this needs the admin token)",
                 409: "the very same set (same payload) is already stored",
                 422: "a field or rule that is not valid, named in error.fields "
                      "(rules.N.field)"}),
             openapi_extra=ADMIN_ONLY)
def post_allocations(body: AllocationSetIn, request: Request, _admin: AdminPrincipal) -> Any:
    """Sign and store a new allocation set (kept beside every earlier one; exports list them
    all, and the set in force for a month is the latest recorded for it)."""
    stored = store.record(context(request).runtime, body.model_dump(exclude_none=True), "json")
    return json_response(store.set_json(stored), 201)


@router.get("/allocations", response_model=AllocationSets, responses=errors(
    401, 403, why={403: "an agent key or a team token"}), openapi_extra=ALL_TEAMS)
def list_allocations(request: Request, _reader: AllTeamsPrincipal) -> Any:
    """Every stored allocation set with its rules, in ledger order."""
    with context(request).runtime.db.read() as conn:
        listed = [store.set_json(s) for s in store.stored_sets(conn)]
    return json_response({"allocation_sets": listed})
