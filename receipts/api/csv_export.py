"""The CSV form of receipts (``GET /v1/receipts?format=csv``): one row per receipt.

Columns are fixed so a spreadsheet or a warehouse load never sees them move: identity and chain
position, time, agent and request, provider and model, the required tags (plus every tag as JSON),
tokens and unit prices per category, cost in the price currency, FX, and cost in the reporting
currency. Money is a decimal string in currency units (exact), as in the JSON view. Text a
spreadsheet would run as a formula gets a leading ``'`` (:mod:`verifier.csvcell`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from verifier.csvcell import spreadsheet_safe
from verifier.jsonview import iso_ms, receipt_json

CATEGORIES = ("input", "cache_read", "cache_write", "cache_write_1h", "output")


def columns(tag_names: Sequence[str]) -> list[str]:
    """The header row."""
    return [
        "id", "chain", "seq", "issued_at", "started_at", "agent", "request_id", "retry_of",
        "provider", "model", "model_requested", "status",
        *(f"tag_{t}" for t in tag_names), "tags",
        *(f"tokens_{c}" for c in CATEGORIES), "tokens_other", "reasoning_tokens",
        *(f"unit_price_{c}" for c in CATEGORIES), "pricing_status", "price_book",
        "currency", "cost", "fx_currency", "fx_rate", "fx_date", "fx_source", "cost_reporting",
        "runtime_ms",
    ]


def row(payload: dict[str, Any], started_at: int | None, tag_names: Sequence[str]) -> list[Any]:
    """One receipt as CSV cells."""
    j = receipt_json(payload)
    usage, prices, tags = j["usage"], j["unit_prices"], j["tags"]
    other = {k: v for k, v in usage.items() if k not in CATEGORIES}
    fx = j["fx"] or {}
    return [spreadsheet_safe(cell) for cell in (
        j["id"], j["chain"], j["seq"], j["issued_at"],
        iso_ms(started_at) if started_at is not None else "", j["agent"], j["request_id"],
        j.get("retry_of", ""), j["provider"], j["model"], j["model_requested"], j["status"],
        *(tags.get(t, "") for t in tag_names), json.dumps(tags, sort_keys=True),
        *(usage.get(c, "") for c in CATEGORIES), json.dumps(other, sort_keys=True) if other
        else "", (j.get("usage_detail") or {}).get("reasoning", ""),
        *(prices.get(c, "") for c in CATEGORIES), j["pricing_status"], j["price_book"],
        j["currency"], j["cost"] or "", fx.get("currency", ""), fx.get("rate", ""),
        fx.get("date", ""), fx.get("source", ""), j["cost_reporting"] or "",
        "" if j["runtime_ms"] is None else j["runtime_ms"],
    )]


def stream(rows: Iterable[tuple[dict[str, Any], int | None]], tag_names: Sequence[str],
           ) -> Iterator[bytes]:
    """The CSV as byte chunks (header first), one chunk per ~500 rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns(tag_names))
    for n, (payload, started_at) in enumerate(rows, 1):
        writer.writerow(row(payload, started_at, tag_names))
        if n % 500 == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
