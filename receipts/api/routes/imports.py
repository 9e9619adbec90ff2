"""``POST /v1/import`` (admin token): backfill receipts from a usage log sent in the body.

The same import as ``receipt import`` (:mod:`receipts.imports.backfill`): the body names the
designated agents and carries the log as text; ``imported.sha256`` in each receipt is the
SHA-256 of that text as UTF-8 (the file's own hash when the file is sent unchanged). The answer
is the import report: receipts added, calls already imported, refused lines with reasons.
"""

from __future__ import annotations

from typing import Any

import anyio.from_thread
from fastapi import APIRouter, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from receipts.api.body_reading import authenticated_first
from receipts.api.dependencies import AdminPrincipal, authenticate_admin, context
from receipts.api.errors import json_response
from receipts.api.openapi import ADMIN_ONLY, errors
from receipts.api.schemas import Text, _Strict
from receipts.imports.backfill import designated_agents, run_import
from receipts.imports.reading import read_log
from receipts.issuing.outcome import Job

router = APIRouter(prefix="/v1", tags=["import"],
                   route_class=authenticated_first(authenticate_admin))


class ImportIn(_Strict):
    """A usage log to backfill, and the agents its receipts are issued under."""

    agents: list[Text] = Field(min_length=1, max_length=256, description=(
        "Agent ids, one per team: a line goes to the agent of its team, or to the only one."))
    name: Text = Field("log", description="The log's name, as refused lines are reported.")
    content: str = Field(description="The log as text: JSON lines, one JSON document or CSV "
                                     "(the formats receipt audit reads; a CSV without "
                                     "LiteLLM's columns needs receipt import --map).")


class ImportOut(_Strict):
    """What the import did."""

    added: int
    already_imported: int
    refused: list[dict[str, Any]]


@router.post("/import", response_model=ImportOut, responses={
    **errors(401, 403, 404, 409, 413, 422, 503, why={
        403: "an agent key, a finance or a team token (this needs the admin token)",
        404: "an agent that is unknown or revoked (error.fields names agents)",
        409: "two agents of the same team", 422: "a malformed body"})},
    openapi_extra=ADMIN_ONLY)
async def import_log(body: ImportIn, request: Request,
                     _admin: AdminPrincipal) -> Any:
    """Backfill receipts from a usage log; sending the same log again adds nothing."""
    ctx = context(request)
    runtime = ctx.runtime
    log = read_log(body.name, body.content.encode("utf-8"))
    with runtime.db.read() as conn:
        agents = designated_agents(conn, body.agents)

    def append(job: Job) -> Job:
        return anyio.from_thread.run(ctx.appender.submit, job)

    report = await run_in_threadpool(run_import, [log], agents,
                                     runtime.settings.required_tags,
                                     runtime.service.refuse_unrepresentable_cost, append)
    return json_response(report.json())
