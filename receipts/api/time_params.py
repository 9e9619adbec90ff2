"""Time query parameters (``since``, ``until``): RFC 3339 or epoch milliseconds."""

from __future__ import annotations

import datetime as dt

from receipts.errors import FieldProblem, Invalid
from verifier.schema import MAX_TIME_MS


def time_param(value: str | None, name: str) -> int | None:
    """A time filter in epoch milliseconds; bounded like a receipt's times (so the database
    never sees an integer beyond its range)."""
    if value is None:
        return None
    if value.isascii() and value.isdigit():  # (str.isdigit alone admits "²" and other digits)
        digits = value.lstrip("0") or "0"
        if len(digits) > 15 or int(digits) > MAX_TIME_MS:
            raise Invalid(f"{name} is after 9999-12-31",
                          [FieldProblem(name, "epoch ms no later than 9999-12-31T23:59:59.999Z")])
        return int(digits)
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name} must be RFC 3339 or milliseconds since the epoch",
                      [FieldProblem(name, "not RFC 3339 (2025-12-01T00:00:00Z) or epoch ms")]
                      ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)
