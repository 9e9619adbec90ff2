"""Budget periods: the UTC window [start, end) that contains an instant.

A budget's spent, reserved and threshold crossings are all counted per period, so every part of
the budget code must agree on where a period starts and ends; this module is that one rule.
Weeks are ISO weeks (Monday 00:00 UTC); quarters start in January, April, July and October.
A fixed window is given by its own start and end and contains only instants inside it.
Instants are integer milliseconds since the Unix epoch, as everywhere in the ledger.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
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


# --- calendar periods in a time zone (spend queries) ------------------------------------------

Period = Literal["day", "week", "month", "quarter"]
PERIODS: tuple[Period, ...] = ("day", "week", "month", "quarter")


def _local_start(period: Period, moment: datetime) -> datetime:
    """The local midnight that starts the ``period`` containing local ``moment``."""
    day = datetime(moment.year, moment.month, moment.day, tzinfo=moment.tzinfo)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())  # (wall-clock arithmetic: a local midnight)
    first = moment.month if period == "month" else (moment.month - 1) // 3 * 3 + 1
    return datetime(moment.year, first, 1, tzinfo=moment.tzinfo)


def _next_start(period: Period, start: datetime) -> datetime:
    """The local midnight that starts the period after the one starting at ``start``."""
    if period in ("day", "week"):
        date = start.date() + timedelta(days=1 if period == "day" else 7)
        return datetime(date.year, date.month, date.day, tzinfo=start.tzinfo)
    months = 1 if period == "month" else 3
    year, month = start.year + (start.month - 1 + months) // 12, (start.month - 1 + months) % 12 + 1
    return datetime(year, month, 1, tzinfo=start.tzinfo)


def _utc_ms(local: datetime) -> int:
    """A local wall time as epoch ms (wall-clock arithmetic above; the zone's offset here)."""
    return int(local.timestamp()) * 1000


def local_window(period: Period, at_ms: int, tz: tzinfo | None = None) -> tuple[int, int]:
    """The [start, end) window in epoch ms of the ``period`` that contains ``at_ms``, in the
    calendar of ``tz`` (UTC when None): days start at local midnight (a day is 23 or 25 hours
    long across a daylight-saving change), weeks on Monday (ISO), quarters in January, April,
    July and October. In UTC, weeks, months and quarters are :func:`calendar_window`'s."""
    zone = tz or UTC
    moment = datetime.fromtimestamp(at_ms // 1000, tz=zone)
    start = _local_start(period, moment)
    return _utc_ms(start), _utc_ms(_next_start(period, start))


def period_label(period: Period, start_ms: int, tz: tzinfo | None = None) -> str:
    """The name of the period starting at ``start_ms``: ``2026-11-25``, ``2026-W48`` (ISO
    week-numbering year and week), ``2026-11``, ``2026-Q4`` (local dates of ``tz``). Days and
    months are named as ``receipt rollup --period`` names them."""
    local = datetime.fromtimestamp(start_ms // 1000, tz=tz or UTC)
    if period == "day":
        return local.strftime("%Y-%m-%d")
    if period == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return local.strftime("%Y-%m")
    return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
