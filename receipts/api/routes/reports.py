"""``GET /v1/reports/{month}``: the monthly spend report of the deployment.

The same report as ``receipt report --data``: facts from the spend API, the month's budgets and
alerts. A team token gets its own team's report (spend, alerts and the budgets of the cost
centers its spend names); admin and finance read every team.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from receipts.api.dependencies import ReaderScope, context
from receipts.api.openapi import READERS, errors
from receipts.api.tag_keys import TAG_KEY_RULE, is_tag_key
from receipts.errors import FieldProblem, Invalid

router = APIRouter(prefix="/v1", tags=["reports"])
Format = Literal["json", "csv", "html", "pdf"]
PERCENT_PATTERN = r"^(100(\.0{1,4})?|[0-9]{1,2}(\.[0-9]{1,4})?)$"
"""A percentage from 0 to 100 with at most 4 decimals."""


def _require(names: list[str]) -> tuple[str, ...]:
    for name in names:
        if not is_tag_key(name):
            raise Invalid(f"require {name!r} is not a tag name",
                          [FieldProblem("require", f"{name!r}: {TAG_KEY_RULE}")])
    return tuple(dict.fromkeys(names)) or ("team",)


@router.get("/reports/{month}", responses={
    200: {"description": "the report (JSON by default; csv, html or pdf with format)",
          "content": {"text/csv": {"schema": {"type": "string"}},
                      "text/html": {"schema": {"type": "string"}},
                      "application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
    **errors(401, 403, 422, 501, why={403: "an agent key (reports are read with the admin, "
                                           "a finance or a team token)",
                                      501: "format=pdf without the pdf extra"})},
    openapi_extra=READERS)
def get_report(
    request: Request, scope: ReaderScope,
    month: Annotated[str, Path(description="UTC calendar month YYYY-MM",
                               pattern=r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])$")],
    format: Format = "json",
    require: Annotated[list[str], Query(description="tags spend must carry to count as "
                                                    "attributed (repeatable; default team)",
                                        max_length=8)] = [],  # noqa: B006
    chargeback_attributable: Annotated[str, Query(
        description="chargeback bar: least percent of a team's spend that carries the "
                    "required tags", pattern=PERCENT_PATTERN)] = "95",
) -> Response:
    """The monthly report: executive summary, cost centers with budget vs actual and year to
    date, teams and projects, anomaly review, forecast, unallocated spend, attribution
    confidence, each team showback or chargeback-ready (and why not); exact decimals in JSON
    and CSV, rounded to the minor unit in HTML and PDF."""
    from receipts.reconcile.bar import Bar, threshold
    from receipts.report.render import MEDIA_TYPES, RENDERERS
    from receipts.report.sources import database_report

    required = _require(require)
    bar = Bar(threshold(chargeback_attributable, "chargeback_attributable"))
    team = scope.team_filter(None)
    runtime = context(request).runtime
    with runtime.db.read() as conn:
        body = database_report(conn, month, required, runtime.facts.reporting_currency, team,
                               "service", bar)
    data = RENDERERS[format](body)
    headers = {} if format in ("json", "html") else {
        "Content-Disposition": f'attachment; filename="report-{month}.{format}"'}
    return Response(data, media_type=MEDIA_TYPES[format], headers=headers)
