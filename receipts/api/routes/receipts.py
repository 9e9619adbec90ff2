"""Receipt routes: write one, write a batch, list (JSON pages or a CSV stream), read one."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from receipts.api import csv_export
from receipts.api.body_reading import authenticating_router
from receipts.api.dependencies import (
    AGENT_SCOPE_KEY,
    AppContext,
    authenticate_writer,
    context,
    principal_of,
    scope_of,
)
from receipts.api.errors import error_of, json_response
from receipts.api.openapi import AGENT_ONLY, ANY_TOKEN, errors
from receipts.api.receipt_schemas import BatchIn, BatchOut, ReceiptOut, ReceiptPage
from receipts.api.schemas import CallIn, parse_model
from receipts.api.time_params import time_param
from receipts.budgets.reservations import check_named
from receipts.deployment.credentials import Agent, Principal
from receipts.errors import (
    FieldProblem,
    Forbidden,
    Invalid,
    NotFound,
    ReceiptsError,
    Unauthorized,
)
from receipts.finops import focus_files
from receipts.finops.focus import FocusRows
from receipts.issuing.outcome import Job, Outcome
from receipts.issuing.prepare import Prepared, prepare
from receipts.policies.gate import Judged
from receipts.storage import queries as store
from receipts.storage.database import Database
from receipts.storage.tables import COST_RANK_OFFSET
from verifier import cose
from verifier.encoding import decode_strict
from verifier.schema import MAX_TIME_MS

router = authenticating_router("receipts", authenticate_writer)
"""Its routes with a body write receipts: the agent is authenticated before the body is read."""

WRITE_WHY = {
    401: "missing, unknown or revoked agent key",
    403: "the admin token (receipts are written with an agent key), tags that contradict "
         "the agent's bound team or tags, or a suspended agent key (code agent_suspended, no "
         "fields: the call is fine, keep it and send it once the key is resumed)",
    409: "request_id reused with a different body",
    422: "invalid field(s), each named in error.fields: the body's schema, required tags "
         "missing, usage that does not add up for its usage_format, a cost no receipt holds, "
         "a deny rule of the tag policy (code policy_denied, the rule named in the message)",
    503: "receipt not stored (database unavailable, no price book in force); safe to retry",
}
WRITE_ERRORS = errors(401, 403, 409, 413, 422, 503, why=WRITE_WHY)


async def writer_agent(request: Request) -> Agent:
    """The agent writing (authenticated before the body is read, by the router's route class:
    401 comes first).

    Deliberately a single dependency with no sub-dependencies: the write path runs thousands of
    times a second and FastAPI's dependency resolution is a measurable part of it. The
    credential each route takes is declared for the docs with ``openapi_extra`` instead
    (:func:`receipts.api.openapi.needs`).
    """
    agent: Agent | None = request.scope.get(AGENT_SCOPE_KEY)
    if agent is None:
        agent = await context(request).auth.writer(request.headers.get("authorization"))
    return agent


def reader(request: Request) -> Principal:
    """Anyone with a valid credential (looked up fresh: revocation is immediate; once per
    request: a route with a body has looked it up before reading it)."""
    return principal_of(request)


Writer = Annotated[Agent, Depends(writer_agent)]
Reader = Annotated[Principal, Depends(reader)]


def receipt_body(outcome: Outcome) -> dict[str, Any]:
    """``{"receipt": JSON view, "cose": base64}``."""
    item = outcome.signed_item()
    assert item is not None  # (an outcome is answered once its group is signed)
    return {"receipt": outcome.json_view(), "cose": base64.b64encode(item).decode()}


READ_BACK = {"links": {"GetReceipt": {
    "operationId": "get_receipt", "parameters": {"receipt_id": "$response.body#/receipt/id"},
    "description": "The receipt, read back by its id."}}}


@router.post("/receipts", status_code=201, response_model=ReceiptOut, responses={
    201: {"description": "a new receipt", **READ_BACK},
    200: {"model": ReceiptOut, "description": "replay: the original receipt of this "
                                              "request_id", **READ_BACK}, **WRITE_ERRORS},
    openapi_extra=AGENT_ONLY)
async def create_receipt(call: CallIn, agent: Writer, request: Request) -> Response:
    """Receipt one LLM call: priced, signed, chained and committed before the answer (201).

    The same agent sending the same ``request_id`` with the same body gets the original
    receipt back (200); with a different body, 409. A retry is never a second charge.
    """
    ctx = context(request)
    prepared = prepare(agent, call, ctx.runtime.settings.required_tags)
    ctx.runtime.service.refuse_unrepresentable_cost(prepared)
    if prepared.reservation is not None:
        await run_in_threadpool(check_named, ctx.runtime.db, agent.id, prepared.reservation)
    judged = ctx.policies.judge(prepared)
    job = await ctx.appender.submit(Job([prepared]))
    if job.error is not None:
        raise job.error
    outcome = job.outcomes[0]
    if outcome.error is not None:
        raise outcome.error
    if judged.flags:
        await run_in_threadpool(ctx.policies.record, [(prepared, judged, outcome)])
    return json_response(receipt_body(outcome), outcome.status)


def _prepare_items(batch: BatchIn, agent: Agent, ctx: AppContext,
                   ) -> tuple[list[Prepared | ReceiptsError], dict[int, Judged]]:
    """Each call prepared (or its error), and the policy flags of those that have some."""
    items: list[Prepared | ReceiptsError] = []
    flagged: dict[int, Judged] = {}
    for i, raw in enumerate(batch.calls):
        try:
            call = parse_model(CallIn, raw, prefix=f"calls.{i}.")
            prepared = prepare(agent, call, ctx.runtime.settings.required_tags)
            ctx.runtime.service.refuse_unrepresentable_cost(prepared)
            if prepared.reservation is not None:
                check_named(ctx.runtime.db, agent.id, prepared.reservation)
            judged = ctx.policies.judge(prepared)
            if judged.flags:
                flagged[i] = judged
            items.append(prepared)
        except ReceiptsError as e:
            items.append(_item_error(i, e))
    return items, flagged


def _item_error(i: int, e: ReceiptsError) -> ReceiptsError:
    """``e`` naming its fields inside batch item ``i`` (``calls.3.usage``)."""
    if not e.fields:
        return e.with_fields([FieldProblem(f"calls.{i}", str(e))])
    if not e.fields[0].field.startswith("calls."):
        return e.with_fields([FieldProblem(f"calls.{i}.{f.field}", f.reason) for f in e.fields])
    return e


def _job_error(job: Job) -> ReceiptsError:
    """An atomic batch's failure found while appending: a call refused there (its receipt
    would not verify) is named as its item, like the items refused before the append."""
    error = job.error
    assert error is not None
    if error.status != 422:
        return error
    index = next((i for i, o in enumerate(job.outcomes) if o.error is error), None)
    if index is None:
        return error
    return Invalid(f"1 of {len(job.calls)} calls refused; nothing stored",
                   _item_error(index, error).fields)


@router.post("/receipts/batch", status_code=201, response_model=BatchOut, responses={
    200: {"model": BatchOut, "description": "atomic: every call was a replay; "
                                            "non-atomic: per-item statuses"}, **WRITE_ERRORS},
    openapi_extra=AGENT_ONLY)
async def create_batch(batch: BatchIn, agent: Writer, request: Request) -> Response:
    """Receipt up to 1,000 calls in one request.

    ``atomic: true`` (default): all or nothing. Any invalid, forbidden or conflicting item fails
    the whole batch (403, 409 or 422 naming ``calls.N.field``) and nothing is stored. On success
    the answer is 201 with one result per call (status 201 new, 200 replay).

    ``atomic: false``: valid items are stored, each result has its own status (201, 200, 401,
    403, 409, 422) and, for failures, an ``error``; the response status is 200.
    """
    ctx = context(request)
    settings = ctx.runtime.settings
    if len(batch.calls) > settings.max_batch:
        raise Invalid(f"at most {settings.max_batch} calls per batch",
                      [FieldProblem("calls", f"{len(batch.calls)} calls; the limit is "
                                             f"{settings.max_batch}")])
    items, flagged = _prepare_items(batch, agent, ctx)
    failures = [e for e in items if isinstance(e, ReceiptsError)]
    if batch.atomic and failures:
        status = 403 if any(e.status == 403 for e in failures) else failures[0].status
        kind = {403: Forbidden, 401: Unauthorized}.get(status, Invalid)
        raise kind(f"{len(failures)} of {len(items)} calls refused; nothing stored",
                   [f for e in failures for f in e.fields])
    job = await ctx.appender.submit(
        Job([p for p in items if isinstance(p, Prepared)], atomic=batch.atomic))
    if job.error is not None:
        raise _job_error(job)
    done = iter(job.outcomes)
    results = []
    signed: list[tuple[Prepared, Judged, Outcome]] = []
    for index, item in enumerate(items):
        outcome = Outcome(item.status, error=item) if isinstance(item, ReceiptsError) \
            else next(done)
        if index in flagged and isinstance(item, Prepared):
            signed.append((item, flagged[index], outcome))
        result: dict[str, Any] = {"index": index, "status": outcome.status}
        if outcome.error is not None:
            refused = outcome.error.status == 422  # (refused while appending: name the item)
            result["error"] = error_of(_item_error(index, outcome.error) if refused
                                       else outcome.error)
        else:
            result.update(receipt_body(outcome))
        results.append(result)
    if signed:
        await run_in_threadpool(ctx.policies.record, signed)
    new = any(r["status"] == 201 for r in results)
    status = 201 if batch.atomic and new else 200
    return json_response({"results": results}, status)


COST_CURSOR = "cost"
"""First element of a ``sort=-cost`` cursor (a page position is a cost rank there)."""


def _cursor(value: str | None, by_cost: bool = False) -> tuple[int, str] | None:
    if value is None:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(value.encode()))
        if by_cost:
            kind, position, receipt_id = decoded
            if kind != COST_CURSOR or type(position) is not int \
                    or not -COST_RANK_OFFSET <= position < COST_RANK_OFFSET:
                raise ValueError
        else:
            position, receipt_id = decoded
            if type(position) is not int or not 0 <= position <= MAX_TIME_MS:
                raise ValueError
        if type(receipt_id) is not str:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise Invalid("bad cursor", [FieldProblem("cursor", "not a cursor this API returned")]
                      ) from None
    return position, receipt_id


def _encode_cursor(position: int, receipt_id: str, by_cost: bool = False) -> str:
    value = [COST_CURSOR, position, receipt_id] if by_cost else [position, receipt_id]
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def _filter(principal: Principal, team: str | None, project: str | None,
            provider: str | None, model: str | None, agent: str | None,
            since: str | None, until: str | None) -> store.ReceiptFilter:
    if principal.agent is not None:
        if agent is not None and agent != principal.agent.id:
            raise Forbidden("an agent key reads only its own receipts",
                            [FieldProblem("agent", "not this key's agent")])
        agent = principal.agent.id
    else:
        team = scope_of(principal).team_filter(team)
    return store.ReceiptFilter(team, project, provider, model, agent, time_param(since, "since"),
                               time_param(until, "until"))


def _payload(item: bytes) -> dict[str, Any]:
    payload: dict[str, Any] = decode_strict(cose.parse(item).payload)
    return payload


def _every(db: Database, flt: store.ReceiptFilter, after: tuple[int, str] | None,
           by_cost: bool = False) -> Iterator[tuple[dict[str, Any], int | None]]:
    """Every matching receipt (payload, started_at) in the listing's order (issue order, or
    the most expensive first), read 1,000 at a time."""
    position = after
    while True:
        with db.read() as conn:
            page = store.list_receipts(conn, flt, position, 1000, by_cost)
        for _, _, item, started in page:
            yield _payload(item), started
        if len(page) < 1000:
            return
        position = (page[-1][0], page[-1][1])


FOCUS_FILES = {"focus": ("text/csv", "focus.csv"),
               "focus_parquet": ("application/vnd.apache.parquet", "focus.parquet")}


def _focus(ctx: AppContext, principal: Principal, flt: store.ReceiptFilter,
           after: tuple[int, str] | None, format: str) -> Response:
    """The FOCUS 1.2 export (admin, finance, or a team token for its team's receipts): the
    same rows ``receipt focus`` makes from a ledger."""
    if principal.agent is not None:
        raise Forbidden("the FOCUS export needs the admin, a finance or a team token",
                        [FieldProblem("format", "focus and focus_parquet are for readers of "
                                                "spend, not agent keys")])
    if format == "focus_parquet":
        focus_files.arrow_schema()  # no pyarrow: 501 now, not a broken stream later
    writer = focus_files.parquet_chunks if format == "focus_parquet" else focus_files.csv_chunks
    rows = FocusRows(ctx.runtime.facts.issuer)
    media_type, filename = FOCUS_FILES[format]
    return StreamingResponse(
        writer(r for payload, _ in _every(ctx.runtime.db, flt, after) for r in rows.of(payload)),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/receipts", response_model=ReceiptPage, responses={
    200: {"description": "JSON page `{receipts: [...], next_cursor}`; with format=csv, a CSV "
                         "stream of every matching receipt; with format=focus (CSV) or "
                         "focus_parquet (Parquet), for the admin, finance and team tokens, their "
                         "FOCUS 1.2 rows (one per receipt and usage category; receipts without a "
                         "cost left out)",
          "content": {"text/csv": {"schema": {"type": "string"}},
                      "application/vnd.apache.parquet": {"schema": {"type": "string",
                                                                    "format": "binary"}}}},
    **errors(401, 403, 422, 501, why={
        403: "an agent key filtering on another agent or asking for a FOCUS export, or a team "
             "token filtering on another team",
        501: "format=focus_parquet on a deployment without the parquet extra"})},
    openapi_extra=ANY_TOKEN)
def list_receipts(
    request: Request, principal: Reader,
    team: str | None = None, project: str | None = None, provider: str | None = None,
    model: str | None = None, agent: str | None = None,
    since: Annotated[str | None, Query(description="RFC 3339 or epoch ms, inclusive")] = None,
    until: Annotated[str | None, Query(description="RFC 3339 or epoch ms, exclusive")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    format: Literal["json", "csv", "focus", "focus_parquet"] = "json",
    sort: Annotated[Literal["issued", "-cost"], Query(
        description="issued (issue order) or -cost: the most expensive first, by cost in the "
                    "reporting currency (receipts without one are left out)")] = "issued",
) -> Response:
    """Receipts in issue order, or the most expensive first (``sort=-cost``). An agent key sees
    only its own, a team token only its team's (receipts whose ``team`` tag is its team); the
    admin and finance tokens see all."""
    ctx = context(request)
    flt = _filter(principal, team, project, provider, model, agent, since, until)
    by_cost = sort == "-cost"
    after = _cursor(cursor, by_cost)
    db = ctx.runtime.db
    if format in FOCUS_FILES:
        return _focus(ctx, principal, flt, after, format)
    if format == "csv":
        tags = ctx.runtime.settings.required_tags
        return StreamingResponse(csv_export.stream(_every(db, flt, after, by_cost), tags),
                                 media_type="text/csv",
                                 headers={"Content-Disposition":
                                          'attachment; filename="receipts.csv"'})
    with db.read() as conn:
        page = store.list_receipts(conn, flt, after, limit, by_cost)
    body = {
        "receipts": [{"receipt": receipt_body(Outcome(200, item=item))["receipt"],
                      "cose": base64.b64encode(item).decode()} for _, _, item, _ in page],
        "next_cursor": _encode_cursor(page[-1][0], page[-1][1], by_cost) if len(page) == limit
        else None,
    }
    return json_response(body)


@router.get("/receipts/{receipt_id}", response_model=ReceiptOut, operation_id="get_receipt",
            responses=errors(401, 404, 422), openapi_extra=ANY_TOKEN)
async def get_receipt(receipt_id: str, request: Request) -> Response:
    """One receipt (an agent key reads only its own, a team token only its team's; others
    are 404)."""
    ctx = context(request)
    principal = await run_in_threadpool(ctx.auth.principal_fresh,
                                        request.headers.get("authorization"))

    def fetch() -> tuple[str, bytes] | None:
        with ctx.runtime.db.read() as conn:
            return store.receipt_by_id(conn, receipt_id)

    found = await run_in_threadpool(fetch)
    if found is None or (principal.agent is not None and found[0] != principal.agent.id) or (
            principal.team is not None and _payload(found[1])["tags"].get("team")
            != principal.team):
        raise NotFound(f"no receipt {receipt_id}")
    return json_response(receipt_body(Outcome(200, item=found[1])))
