"""Budget periods: every instant lies in exactly one window, and windows tile the time line."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from receipts.budgets.periods import Calendar, calendar_window

instants = st.integers(min_value=0, max_value=4_102_444_800_000)
periods = st.sampled_from(["week", "month", "quarter"])


@given(periods, instants)
def test_instant_lies_in_its_window_and_the_next_window_follows(period: Calendar, at: int) -> None:
    start, end = calendar_window(period, at)
    assert start <= at < end
    assert calendar_window(period, end)[0] == end
    assert calendar_window(period, start - 1)[1] == start


def test_known_windows() -> None:
    at = int(datetime(2026, 12, 2, 20, 50, tzinfo=UTC).timestamp()) * 1000
    def day(y: int, m: int, d: int) -> int:
        return int(datetime(y, m, d, tzinfo=UTC).timestamp()) * 1000
    assert calendar_window("week", at) == (day(2026, 11, 30), day(2026, 12, 7))
    assert calendar_window("month", at) == (day(2026, 12, 1), day(2027, 1, 1))
    assert calendar_window("quarter", at) == (day(2026, 10, 1), day(2027, 1, 1))
