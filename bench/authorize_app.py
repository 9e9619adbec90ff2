"""The service as ``receipt serve`` runs it, plus two routes only bench/authorize.py calls.

They answer like ``POST /v1/authorize`` but stop early, so the benchmark can say where an
authorization's time goes, measured in the same worker and the same run:

* ``POST /bench/noop``: the same HTTP edge (middleware, the agent key checked before the body
  is read, the body parsed and validated as ``AuthorizeIn``), then a fixed ``allow`` answer:
  the per-request cost of the framework;
* ``POST /bench/priced``: that, plus the estimate priced and the tag policy judged, as the real
  route does before it queues the request for the budgets' transaction.

Run by uvicorn as a factory: ``uvicorn authorize_app:create --factory --app-dir bench``.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from receipts.api.app import app_from_env
from receipts.api.body_reading import authenticated_first
from receipts.api.budget_schemas import AuthorizeIn
from receipts.api.dependencies import authenticate_writer
from receipts.api.errors import json_response
from receipts.api.routes.budgets import estimate_and_policy
from receipts.api.routes.receipts import Writer

ANSWER = {"decision": "allow", "reservation": {
    "id": "rs_000000000000000000000000", "estimate": "0.010000000000", "state": "held",
    "expires_at": "2026-01-01T00:10:00.000Z", "budgets": []}}

router = APIRouter(prefix="/bench", route_class=authenticated_first(authenticate_writer))


@router.post("/noop")
async def noop(body: AuthorizeIn, agent: Writer) -> Response:
    """The HTTP edge only."""
    return json_response(ANSWER)


@router.post("/priced")
async def priced(body: AuthorizeIn, agent: Writer, request: Request) -> Response:
    """The HTTP edge, the estimate and the tag policy; no budget transaction."""
    _, denied = estimate_and_policy(body, agent, request)
    return json_response(denied if denied is not None else ANSWER)


def create() -> FastAPI:
    """The app of ``receipt serve`` (settings from the environment) with the routes above."""
    app = app_from_env()
    app.include_router(router)
    # matched right after POST /v1/authorize's router, as it is: the same routing cost
    routes = app.router.routes
    bench = routes.pop()
    at = next(i for i, r in enumerate(routes) if any(
        getattr(route, "path", "") == "/v1/authorize"
        for route in getattr(getattr(r, "original_router", None), "routes", ())))
    routes.insert(at + 1, bench)
    return app
