"""``GET /v1/spend``: spend per group and period, from the aggregates kept with the ledger."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from receipts.api.dependencies import ReaderScope, context
from receipts.api.errors import json_response
from receipts.api.openapi import READERS, errors
from receipts.api.spend_schemas import SpendAnswer
from receipts.api.tag_keys import TAG_KEY_PATTERN, TAG_KEY_RULE, is_tag_key
from receipts.api.time_params import time_param
from receipts.budgets.periods import Period
from receipts.errors import FieldProblem, Invalid
from receipts.spend import local_days, report
from receipts.spend.query import Currency, SpendQuery

router = APIRouter(prefix="/v1", tags=["spend"])
MAX_BY = 8
NOT_TAGS = ("chain", "status", "pricing_status")
"""Receipt fields ``receipt rollup`` groups by that the aggregates do not keep."""
ROW_FIELDS = ("period", "currency", "receipts", "unpriced", "retries", "cost",
              "cost_by_category", "tokens", "share", "avg_cost", "agents", "previous_cost")
"""A row's own fields: a tag of one of these names cannot be a column beside them."""


def _by(names: list[str]) -> tuple[str, ...]:
    if len(names) > MAX_BY:
        raise Invalid(f"at most {MAX_BY} by", [FieldProblem("by", f"{len(names)} names")])
    for name in names:
        if not is_tag_key(name):
            raise Invalid(f"by {name!r} is not a tag name",
                          [FieldProblem("by", f"{name!r}: {TAG_KEY_RULE}")])
        if name in NOT_TAGS:
            raise Invalid(f"spend is not kept by {name}",
                          [FieldProblem("by", f"{name!r}: not a tag; the receipt field is not "
                                              "kept in the spend aggregates")])
        if name in ROW_FIELDS:
            raise Invalid(f"by {name!r} names a field of every row",
                          [FieldProblem("by", f"{name!r}: a row field, not groupable")])
    if len(set(names)) != len(names):
        raise Invalid("by names a group twice", [FieldProblem("by", "repeated name")])
    return tuple(names)


def _zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"unknown time zone {name!r}",
                      [FieldProblem("tz", "not an IANA time zone name (Europe/Paris)")]) from None


def spend_query(by: list[str], period: Period | None, tz: str | None, since: str | None,
                until: str | None, top: int | None, currency: Currency,
                team: str | None) -> SpendQuery:
    """A checked :class:`SpendQuery` from request parameters (422 naming the field)."""
    return SpendQuery(_by(by), period, _zone(tz), time_param(since, "since"),
                      time_param(until, "until"), top, currency, team)


@router.get("/spend", response_model=SpendAnswer, responses={
    200: {"description": "JSON, or with format=csv one line per row",
          "content": {"text/csv": {"schema": {"type": "string"}}}},
    **errors(401, 403, 422, why={403: "an agent key (spend is read with the admin, a finance "
                                      "or a team token)"})},
    openapi_extra=READERS)
def get_spend(
    request: Request, scope: ReaderScope,
    by: Annotated[list[str], Query(description="group by a tag, or provider, model, agent "
                                               "(repeatable)", max_length=MAX_BY,
                                   json_schema_extra={"items": {
                                       "type": "string", "pattern": TAG_KEY_PATTERN}})] = [],  # noqa: B006
    period: Annotated[Period | None, Query(description="ISO weeks; calendar quarters")] = None,
    tz: Annotated[str | None, Query(description="IANA time zone of the periods (default "
                                                "UTC)", max_length=64)] = None,
    since: Annotated[str | None, Query(description="RFC 3339 or epoch ms, inclusive; on a "
                                                   "quarter hour")] = None,
    until: Annotated[str | None, Query(description="RFC 3339 or epoch ms, exclusive; on a "
                                                   "quarter hour")] = None,
    top: Annotated[int | None, Query(ge=1, le=10_000, description="only the N groups of "
                                                                  "largest cost")] = None,
    currency: Annotated[Currency, Query(description="reporting (default) or each receipt's "
                                                    "own")] = "reporting",
    format: Literal["json", "csv"] = "json",
) -> Response:
    """Spend per group and period: counts, exact costs (also per token category), tokens,
    share of the period's total, average cost, distinct agents and the previous period's
    cost, summed from aggregates kept in the same transaction as each receipt. The same
    numbers as ``receipt rollup`` on the exported ledger. A team token reads its own team's
    spend only (receipts whose ``team`` tag is its team)."""
    q = spend_query(by, period, tz, since, until, top, currency, scope.team_filter(None))
    body = spend_answer(request, q)
    if format == "csv":
        return Response(report.csv_text(q, body), media_type="text/csv", headers={
            "Content-Disposition": 'attachment; filename="spend.csv"'})
    return json_response(body)


def spend_answer(request: Request, q: SpendQuery) -> dict[str, object]:
    """The answer to ``q`` (``q.team`` restricts it to one team's receipts). A day or week
    query in a time zone asks for the zone's ended days to be kept (:mod:`receipts.spend.
    local_days`), so that the next ones read them."""
    db = context(request).runtime.db
    if q.period in ("day", "week"):
        local_days.remember_zone(db, q.tz)
    with db.read() as conn:
        return report.spend(conn, q)
