"""Budget periods: the UTC window [start, end) that contains an instant.

A budget's spent, reserved and threshold crossings are all counted per period, so every part of
the budget code must agree on where a period starts and ends; this module is that one rule.
Weeks are ISO weeks (Monday 00:00 UTC); quarters start in January, April, July and October.
A fixed window is given by its own start and end and contains only instants inside it.
Instants are integer milliseconds since the Unix epoch, as everywhere in the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

Calendar = Literal["week", "month", "quarter"]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000


def _month_start(year: int, month: int) -> datetime:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=UTC)


def calendar_window(period: Calendar, at_ms: int) -> tuple[int, int]:
    """The [start, end) window in ms of the calendar ``period`` that contains ``at_ms``."""
    moment = datetime.fromtimestamp(at_ms // 1000, tz=UTC)
    if period == "week":
        day = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
        start = day - timedelta(days=day.weekday())
        return _ms(start), _ms(start + timedelta(days=7))
    if period == "month":
        return _ms(_month_start(moment.year, moment.month)), _ms(
            _month_start(moment.year, moment.month + 1))
    first = (moment.month - 1) // 3 * 3 + 1
    return _ms(_month_start(moment.year, first)), _ms(_month_start(moment.year, first + 3))
