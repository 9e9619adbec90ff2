"""Response models of ``GET /v1/spend`` (for the OpenAPI document; answers are built as dicts
by :mod:`receipts.spend.report`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

AMOUNT = r"^[0-9]+\.[0-9]{12}$"
RATIO = r"^[0-9]+\.[0-9]{6}$"


class SpendRow(BaseModel):
    """One group in one period. Its ``by`` values are further properties, named as asked
    (``team``, ``provider``...): a string, or null for receipts without that tag."""

    model_config = ConfigDict(extra="allow")
    period: str | None = Field(None, description="2026-11-25, 2026-W48, 2026-11 or 2026-Q4; "
                                                 "present when a period is asked for")
    currency: str | None = Field(description="the receipts' currency (native) or their FX "
                                             "currency (reporting; null: no FX rate)")
    receipts: int = Field(ge=0)
    unpriced: int = Field(ge=0, description="receipts without a cost in this currency mode")
    retries: int = Field(ge=0, description="receipts that retry an earlier one (retry_of)")
    cost: str | None = Field(pattern=AMOUNT, description="exact; null: nothing priced")
    cost_by_category: dict[str, str] | None = Field(
        description="cost per token category (reporting: each term converted, so the sum may "
                    "differ from cost by rounding)")
    tokens: dict[str, int] = Field(description="billable counts per category")
    share: str | None = Field(pattern=RATIO, description="of the period's priced total in "
                                                         "this currency")
    avg_cost: str | None = Field(pattern=AMOUNT, description="cost per priced receipt, "
                                                             "rounded half to even")
    agents: int = Field(ge=0, description="distinct agents")
    previous_cost: str | None = Field(pattern=AMOUNT, description="the same group's cost in "
                                                                  "the period before")


class SpendTotal(BaseModel):
    """Totals over every row of the range (before ``top``)."""

    receipts: int = Field(ge=0)
    unpriced: int = Field(ge=0)
    retries: int = Field(ge=0)
    cost: dict[str, str] = Field(description="priced cost per currency")


class SpendAnswer(BaseModel):
    """Rows, the total, and per tag grouped by the cost of receipts without that tag."""

    rows: list[SpendRow]
    total: SpendTotal
    unattributed: dict[str, dict[str, str]] = Field(
        description="tag -> currency -> priced cost of receipts without the tag")
