"""Receipts as FOCUS 1.2 rows (FinOps Open Cost and Usage Specification): one row per receipt
and usage category.

Why per category and not per receipt: a FOCUS row has one ``PricingQuantity`` and one
``ListUnitPrice``; a receipt prices input, cache reads, cache writes and output at different
unit prices, so only a row per category can state its quantity and price truthfully (and
``PricingQuantity × ListUnitPrice = ListCost`` holds on every row, exactly). The receipt's
rows share its ``x_ReceiptId``, ``x_Chain`` and ``x_Seq``; summing ``BilledCost`` over them
gives the receipt's ``cost``.

Quantities are in units of the category (tokens for token categories, ``PricingUnit`` and
``ConsumedUnit`` ``Tokens``), so unit prices are per token: a receipt's unit price is 10^-6 per
1M tokens, i.e. 10^-12 per token, the scale of ``cost``, so every amount here is an exact integer
of 10^-12 units (printed as decimals, never floats). Costs are the receipt's own: the price book
it cites already holds any negotiated discount, so list, contracted, effective and billed cost
are the same amount (``x_PriceBook`` says which book).

A receipt the price book could not price (``cost`` null) has no row: FOCUS costs cannot be null,
and 0 would state a price nobody knows. Callers count such receipts apart
(:attr:`FocusRows.unpriced`), as rollups do.

FX: ``BillingCurrency`` is the receipt's currency (its price book's). The receipt's conversion
into the reporting currency is in ``x_`` columns; its ``cost_reporting`` is spread over its rows
by converting running totals (each row gets ``convert(running total) − convert(total before
it)``), so a receipt's rows sum exactly to its ``cost_reporting`` with the one rounding rule of
``verifier.money``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from receipts.pricing.categories import CATEGORIES
from verifier.money import COST_SCALE, FX_RATE_SCALE, convert
from verifier.rollup import DAY_MS

FOCUS_VERSION = "1.2"
SERVICE_CATEGORY = "AI and Machine Learning"
SERVICE_SUBCATEGORY = "Generative AI"

STRING, DECIMAL, DATETIME, JSON, INTEGER = "string", "decimal", "datetime", "json", "integer"


@dataclass(frozen=True)
class Column:
    """One output column: its FOCUS data type (``kind``), whether this export may leave it
    empty, and for decimals the number of decimals (for times: of the seconds)."""

    name: str
    kind: str
    nullable: bool = False
    scale: int = 0


_PRICE = COST_SCALE  # per unit: 10^-12, the scale of cost

COLUMNS: tuple[Column, ...] = (
    Column("BilledCost", DECIMAL, scale=COST_SCALE),
    Column("BillingAccountId", STRING),
    Column("BillingAccountName", STRING),
    Column("BillingCurrency", STRING),
    Column("BillingPeriodEnd", DATETIME),
    Column("BillingPeriodStart", DATETIME),
    Column("ChargeCategory", STRING),
    Column("ChargeClass", STRING, nullable=True),
    Column("ChargeDescription", STRING),
    Column("ChargeFrequency", STRING),
    Column("ChargePeriodEnd", DATETIME),
    Column("ChargePeriodStart", DATETIME),
    Column("ConsumedQuantity", DECIMAL),
    Column("ConsumedUnit", STRING),
    Column("ContractedCost", DECIMAL, scale=COST_SCALE),
    Column("ContractedUnitPrice", DECIMAL, scale=_PRICE),
    Column("EffectiveCost", DECIMAL, scale=COST_SCALE),
    Column("InvoiceIssuerName", STRING),
    Column("ListCost", DECIMAL, scale=COST_SCALE),
    Column("ListUnitPrice", DECIMAL, scale=_PRICE),
    Column("PricingCategory", STRING),
    Column("PricingQuantity", DECIMAL),
    Column("PricingUnit", STRING),
    Column("ProviderName", STRING),
    Column("PublisherName", STRING),
    Column("ServiceCategory", STRING),
    Column("ServiceName", STRING),
    Column("ServiceSubcategory", STRING),
    Column("SkuId", STRING),
    Column("SkuMeter", STRING),
    Column("SkuPriceId", STRING),
    Column("Tags", JSON),
    # extensions (after every FOCUS column, as the specification asks)
    Column("x_ReceiptId", STRING),
    Column("x_Chain", STRING),
    Column("x_Seq", INTEGER),
    Column("x_IssuedAt", DATETIME, scale=3),
    Column("x_UsageCategory", STRING),
    Column("x_PriceBook", STRING),
    Column("x_Provider", STRING),
    Column("x_Model", STRING),
    Column("x_ModelRequested", STRING),
    Column("x_ServiceTier", STRING, nullable=True),
    Column("x_Agent", STRING),
    Column("x_RequestId", STRING),
    Column("x_RetryOf", STRING, nullable=True),
    Column("x_ReportingCurrency", STRING, nullable=True),
    Column("x_FxRate", DECIMAL, nullable=True, scale=FX_RATE_SCALE),
    Column("x_FxDate", STRING, nullable=True),
    Column("x_FxSource", STRING, nullable=True),
    Column("x_BilledCostInReportingCurrency", DECIMAL, nullable=True, scale=COST_SCALE),
)
"""The export's columns, in order. Decimals are integers of 10^-scale units in the rows;
times are milliseconds since the epoch (UTC)."""

COLUMN_NAMES = tuple(c.name for c in COLUMNS)
INDEX = {c.name: i for i, c in enumerate(COLUMNS)}

PROVIDER_NAMES = {
    "openai": "OpenAI", "anthropic": "Anthropic", "google": "Google", "mistral": "Mistral AI",
    "deepseek": "DeepSeek", "groq": "Groq", "x-ai": "xAI", "cohere": "Cohere",
    "perplexity": "Perplexity", "aws": "Amazon Web Services", "azure": "Microsoft Azure",
    "together": "Together AI", "fireworks": "Fireworks AI", "openrouter": "OpenRouter",
}
"""How FOCUS names a provider (``ProviderName``); other providers keep the book's id."""

UNITS = {"token": "Tokens", "request": "Requests", "second": "Seconds",
         "character": "Characters", "page": "Pages", "message": "Messages"}
"""A category's unit (``receipts.pricing.categories``) as FOCUS writes units (plural)."""

STANDARD_TIERS = frozenset({"standard", "default"})


def provider_name(provider: str) -> str:
    """``ProviderName`` (also publisher and invoice issuer: the provider bills the call)."""
    return PROVIDER_NAMES.get(provider, provider)


def unit_of(category: str) -> str:
    """``PricingUnit`` of a usage category: its unit's plural, ``Units`` if unknown."""
    known = CATEGORIES.get(category)
    return UNITS.get(known.unit, "Units") if known else "Units"


def meter_of(category: str) -> str:
    """``SkuMeter``: the category as words (``cache_write_1h`` -> ``Cache Write 1h``)."""
    return " ".join(w if w[0].isdigit() else w.capitalize() for w in category.split("_"))


_periods: dict[int, tuple[int, int, int, int]] = {}


def periods(issued_at: int) -> tuple[int, int, int, int]:
    """(charge period start, end, billing period start, end) in ms: the receipt's UTC day and
    UTC calendar month, ends exclusive (FOCUS periods)."""
    day = issued_at // DAY_MS
    found = _periods.get(day)
    if found is None:
        start = dt.datetime.fromtimestamp(day * 86_400, tz=dt.UTC)
        month = start.replace(day=1)
        after = (month + dt.timedelta(days=32)).replace(day=1)
        found = (day * DAY_MS, (day + 1) * DAY_MS, int(month.timestamp()) * 1000,
                 int(after.timestamp()) * 1000)
        if len(_periods) < 100_000:
            _periods[day] = found
    return found


def tags_json(tags: dict[str, str]) -> str:
    """``Tags``: the receipt's tags as one flat JSON object, keys sorted."""
    return json.dumps(tags, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


Row = tuple[Any, ...]


def receipt_rows(p: dict[str, Any], account: str) -> list[Row]:
    """The FOCUS rows of one receipt payload (in ``COLUMNS`` order), one per usage category in
    name order; none for a receipt without a cost. ``account`` is the issuer of the ledger
    (``BillingAccountId``): the receipts' billing account is the deployment that issued them."""
    if p["cost"] is None:
        return []
    provider, model = p["provider"], p["model"]
    name = provider_name(provider)
    tier = p.get("service_tier")
    standard = tier is None or tier in STANDARD_TIERS
    tier_id = "standard" if standard else tier
    charge_start, charge_end, bill_start, bill_end = periods(p["issued_at"])
    tags = tags_json(p["tags"])
    fx = p["fx"]
    rate = None if fx is None else fx["rate"]
    fx_cells = (None, None, None, None) if fx is None else \
        (fx["currency"], rate, fx["date"], fx["source"])
    prices = p["unit_prices"]
    rows: list[Row] = []
    running = converted = 0
    for category, count in sorted(p["usage"].items()):
        price = prices[category]
        cost = count * price
        reporting = None
        if rate is not None:
            running += cost
            total = convert(running, rate)
            reporting, converted = total - converted, total
        unit = unit_of(category)
        meter = meter_of(category)
        rows.append((
            cost, account, account, p["currency"], bill_end, bill_start,
            "Usage", None, f"{model} {meter.lower()} ({unit.lower()})", "Usage-Based",
            charge_end, charge_start, count, unit, cost, price, cost, name, cost, price,
            "Standard" if standard else "Other", count, unit, name, name,
            SERVICE_CATEGORY, f"{name} API", SERVICE_SUBCATEGORY,
            f"{provider}/{model}", meter, f"{provider}/{model}/{category}/{tier_id}", tags,
            p["id"], p["chain"], p["seq"], p["issued_at"], category, p["price_book"].hex(),
            provider, model, p["model_requested"], tier, p["agent"], p["request_id"],
            p.get("retry_of"), *fx_cells, reporting,
        ))
    return rows


@dataclass
class FocusRows:
    """Rows of many receipts, counting those without a cost (left out) and the totals the
    rows sum to, per currency, in 10^-12 units."""

    account: str
    receipts: int = 0
    unpriced: int = 0
    rows: int = 0

    def __post_init__(self) -> None:
        self.totals: dict[str, int] = {}

    def of(self, payload: dict[str, Any]) -> list[Row]:
        """The rows of one receipt, counted."""
        self.receipts += 1
        rows = receipt_rows(payload, self.account)
        if not rows:
            self.unpriced += payload["cost"] is None
            return rows
        self.rows += len(rows)
        currency = payload["currency"]
        self.totals[currency] = self.totals.get(currency, 0) + payload["cost"]
        return rows
