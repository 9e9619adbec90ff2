"""``GET /v1/statements/{tenant}/{month}``: one tenant's usage statement from the deployment.

The same statement as ``receipt statement --data``. It is read with the admin or a finance
token only: a tenant is a customer of the platform, not a team of it, and its calls may be
served by several teams' agents, so a team token (which reads its own team's spend) gets a
403 rather than a statement with some of the customer's usage left out.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from receipts.api.dependencies import AllTeamsPrincipal, context
from receipts.api.openapi import ALL_TEAMS, errors
from receipts.api.tag_keys import TAG_KEY_PATTERN

router = APIRouter(prefix="/v1", tags=["statements"])
Format = Literal["json", "csv", "receipts", "html", "pdf"]
Currency = Literal["reporting", "native"]


@router.get("/statements/{tenant}/{month}", responses={
    200: {"description": "the statement (JSON by default; csv: the usage lines, receipts: "
                         "the receipt ids behind each line, html or pdf with format)",
          "content": {"text/csv": {"schema": {"type": "string"}},
                      "text/html": {"schema": {"type": "string"}},
                      "application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
    **errors(401, 403, 422, 501, why={403: "an agent key or a team token (statements are "
                                           "read with the admin or a finance token)",
                                      501: "format=pdf without the pdf extra"})},
    openapi_extra=ALL_TEAMS)
def get_statement(
    request: Request, _reader: AllTeamsPrincipal,
    tenant: Annotated[str, Path(description="the tenant: the value of the tenant tag",
                                min_length=1, max_length=256)],
    month: Annotated[str, Path(description="UTC calendar month YYYY-MM",
                               pattern=r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])$")],
    format: Format = "json",
    currency: Currency = "reporting",
    tenant_tag: Annotated[str, Query(description="the tag naming the tenant",
                                     pattern=TAG_KEY_PATTERN)] = "tenant_id",
) -> Response:
    """A tenant's usage statement for the month: lines by UTC day and model (receipts, tokens
    per category, cost), totals, and the receipt ids behind each line; exact decimals in JSON
    and CSV, rounded to the minor unit in HTML and PDF."""
    from receipts.statements.build import build
    from receipts.statements.records import Ask
    from receipts.statements.render import EXTENSIONS, MEDIA_TYPES, RENDERERS
    from receipts.statements.sources import from_database

    runtime = context(request).runtime
    ask = Ask(tenant, month, tenant_tag, currency, runtime.facts.reporting_currency)
    with runtime.db.read() as conn:
        body = build(from_database(conn, ask, "service"), ask)
    data = RENDERERS[format](body)
    headers = {} if format in ("json", "html") else {
        "Content-Disposition": f'attachment; filename="statement-{month}.{EXTENSIONS[format]}"'}
    return Response(data, media_type=MEDIA_TYPES[format], headers=headers)
