"""JSON views of ledger items (spec §6.3): what people and spreadsheets read.

Byte strings become lowercase hex, times become RFC 3339 UTC strings with milliseconds, and money
becomes decimal strings in currency units with the field's fixed number of decimals (cost 12,
unit prices 6, FX rates 9), so no JSON reader ever turns money into a float. The service's HTTP
API uses these same functions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from verifier.money import COST_SCALE, FX_RATE_SCALE, UNIT_PRICE_SCALE, format_amount

_last_second: list[tuple[int, str]] = [(-1, "")]


def iso_ms(ms: int) -> str:
    """``2025-12-01T00:00:00.000Z`` for a millisecond Unix timestamp.

    The formatted second is remembered: receipts written or listed together share it, and the
    service builds this view for every receipt it answers with.
    """
    second, millis = divmod(ms, 1000)
    cached_second, prefix = _last_second[0]
    if second != cached_second:
        prefix = dt.datetime.fromtimestamp(second, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _last_second[0] = (second, prefix)
    return f"{prefix}{millis:03d}Z"


def _money(value: int | None, scale: int) -> str | None:
    return None if value is None else format_amount(value, scale)


def receipt_json(p: dict[str, Any]) -> dict[str, Any]:
    """A receipt payload as JSON-safe values (keys unchanged)."""
    out = dict(p)
    out["prev"] = p["prev"].hex()
    out["price_book"] = p["price_book"].hex()
    out["issued_at"] = iso_ms(p["issued_at"])
    if "started_at" in p:
        out["started_at"] = iso_ms(p["started_at"])
    out["unit_prices"] = {k: format_amount(v, UNIT_PRICE_SCALE)
                          for k, v in p["unit_prices"].items()}
    out["cost"] = _money(p["cost"], COST_SCALE)
    out["cost_reporting"] = _money(p["cost_reporting"], COST_SCALE)
    if p["fx"] is not None:
        out["fx"] = {**p["fx"], "rate": format_amount(p["fx"]["rate"], FX_RATE_SCALE)}
    return out


def checkpoint_json(p: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint payload as JSON-safe values."""
    return {**p, "head": p["head"].hex(), "time": iso_ms(p["time"])}
