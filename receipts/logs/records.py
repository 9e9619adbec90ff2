"""One call (or one aggregated row) read from a log, and the exact conversions readers share.

Money is held as integers of 10^-12 units (the receipt format's cost scale, so a logged cost
compares exactly with ``verifier.money.cost_of``). Times are milliseconds since the epoch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from receipts.pricing.usage import NormalizedUsage
from verifier.money import COST_SCALE

_ONE = Decimal(1).scaleb(-COST_SCALE)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class ShapeError(ValueError):
    """A record that is not what its shape promises; the reader adds the file and line."""


@dataclass(slots=True)
class LogCall:
    """What a log says about one call: who, which model, what usage, what it cost as logged.

    ``usage`` is None for rows that carry only money (Costs API, Anthropic cost report);
    ``calls`` is above 1 for aggregated rows (Usage API buckets), which have no request id.
    """

    where: str
    provider: str
    model: str
    request_id: str | None = None
    at_ms: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    usage: NormalizedUsage | None = None
    logged_cost: int | None = None
    service_tier: str | None = None
    calls: int = 1
    shape: str = ""


def money_units(value: Any, where: str, *, divisor: int = 1) -> int:
    """A logged amount (JSON number read as Decimal, or decimal text) in 10^-12 units.

    ``divisor`` 100 reads cents. Amounts finer than 10^-12 are rounded half to even (logs print
    floats such as 0.00029520000000000003; the receipt scale is the finest a cost can be).
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ShapeError(f"{where}: must be a number, got {value!r}")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value) / divisor
    except InvalidOperation as e:
        raise ShapeError(f"{where}: {value!r} is not a decimal amount") from e
    if not amount.is_finite():
        raise ShapeError(f"{where}: {value!r} is not a finite amount")
    return int(amount.quantize(_ONE, rounding=ROUND_HALF_EVEN).scaleb(COST_SCALE))


def time_ms(value: Any, where: str) -> int | None:
    """An instant as logged: RFC 3339 text, or epoch seconds / milliseconds / nanoseconds
    (numbers or digit strings, told apart by size), or None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        known = _times.get(value)
        if known is not None:
            return known
        found = _time_ms(value, where)
        if found is not None:
            if len(_times) >= 4096:
                _times.clear()
            _times[value] = found  # (log lines of one second share their time text)
        return found
    if type(value) is int:  # as the Decimal steps below, without the Decimal
        return value // 10**6 if value >= 10**17 else value if value >= 10**11 else value * 1000
    return _time_ms(value, where)


_times: dict[str, int] = {}


def _time_ms(value: Any, where: str) -> int | None:
    """:func:`time_ms` without its memo."""
    if isinstance(value, str) and not value.strip().lstrip("-").replace(".", "", 1).isdigit():
        text = value.strip().replace("Z", "+00:00").replace(" ", "T", 1)
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError as e:
            raise ShapeError(f"{where}: {value!r} is not an RFC 3339 time") from e
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return (when - _EPOCH) // dt.timedelta(milliseconds=1)
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ShapeError(f"{where}: {value!r} is not a time")
    number = Decimal(value)
    if number >= 10**17:      # nanoseconds (OTLP)
        return int(number // 10**6)
    if number >= 10**11:      # milliseconds
        return int(number)
    return int(number * 1000)  # seconds (OpenAI created, LiteLLM epoch floats)


def text_tags(raw: Any, where: str) -> dict[str, str]:
    """A flat ``{name: text}`` map of tags (numbers and booleans as their text, nulls dropped)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ShapeError(f"{where}: tags must be an object")
    out = {}
    for key, value in raw.items():
        if value is None or isinstance(value, dict | list):
            continue
        out[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return out
