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


_UNIT_PRICES: dict[tuple[tuple[str, int], ...], dict[str, str]] = {}
_FX_RATES: dict[int, str] = {}
_MEMO_LIMIT = 4096


def _unit_prices(prices: dict[str, int]) -> dict[str, str]:
    """Unit prices as decimal strings. Memoized: a receipt's prices repeat its model's, so a
    service answering thousands of receipts a second formats a few price lists, not each one
    (the caller gets its own copy)."""
    key = tuple(prices.items())
    text = _UNIT_PRICES.get(key)
    if text is None:
        text = {k: format_amount(v, UNIT_PRICE_SCALE) for k, v in prices.items()}
        if len(_UNIT_PRICES) < _MEMO_LIMIT:
            _UNIT_PRICES[key] = text
    return dict(text)


def _fx_rate(rate: int) -> str:
    text = _FX_RATES.get(rate)
    if text is None:
        text = format_amount(rate, FX_RATE_SCALE)
        if len(_FX_RATES) < _MEMO_LIMIT:
            _FX_RATES[rate] = text
    return text


def receipt_json(p: dict[str, Any]) -> dict[str, Any]:
    """A receipt payload as JSON-safe values (keys unchanged)."""
    out = dict(p)
    out["prev"] = p["prev"].hex()
    out["price_book"] = p["price_book"].hex()
    out["issued_at"] = iso_ms(p["issued_at"])
    if "started_at" in p:
        out["started_at"] = iso_ms(p["started_at"])
    if "imported" in p:
        out["imported"] = {"sha256": p["imported"]["sha256"].hex(), "line": p["imported"]["line"]}
    out["unit_prices"] = _unit_prices(p["unit_prices"])
    out["cost"] = _money(p["cost"], COST_SCALE)
    out["cost_reporting"] = _money(p["cost_reporting"], COST_SCALE)
    if p["fx"] is not None:
        out["fx"] = {**p["fx"], "rate": _fx_rate(p["fx"]["rate"])}
    return out


def checkpoint_json(p: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint payload as JSON-safe values."""
    return {**p, "head": p["head"].hex(), "time": iso_ms(p["time"])}
