"""The verifier's indexes answer exactly as the plain rules they speed up."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from receipts.pricing.books import SHIPPED_ENTRIES, build_price_book
from verifier.money import FX_ONE
from verifier.pricing import (
    IDENTITY_SOURCE,
    BookSchedule,
    FxRate,
    RateTable,
    latest_book,
    select_rate,
)
from verifier.rollup import DAY_MS, utc_day
from verifier.verify import _Context

DAYS = ["2025-11-28", "2025-11-29", "2025-11-30", "2025-12-01", "2025-12-02"]
rates = st.lists(
    st.builds(FxRate, st.just("USD"), st.sampled_from(["GBP", "EUR"]), st.sampled_from(DAYS),
              st.integers(min_value=1, max_value=2 * 10**9), st.sampled_from(["ecb", "fed"]),
              st.integers(min_value=0, max_value=10**6)),
    max_size=12,
)


@settings(max_examples=200)
@given(rates, st.sampled_from(["GBP", "EUR"]), st.sampled_from(DAYS),
       st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=8))
def test_rate_table_selects_as_the_rule(published: list[FxRate], quote: str, day: str,
                                         times: list[int]) -> None:
    table = RateTable(published)
    for at in times:  # several receipts per day, in any order, through one memo
        assert table.select("USD", quote, day, at) == select_rate(published, "USD", quote, day,
                                                                  at)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=5, unique=True),
       st.lists(st.integers(min_value=-5, max_value=110), min_size=1, max_size=10))
def test_book_schedule_is_latest_book(starts: list[int], times: list[int]) -> None:
    books = [build_price_book(SHIPPED_ENTRIES, currency="USD", effective_from=s, created_at=s,
                              source=f"book {s}")[1] for s in starts]
    schedule = BookSchedule(books)
    for at in times:
        assert schedule.in_force(at) is latest_book(books, at)


_DAY0 = 1_764_288_000_000  # 2025-11-28T00:00:00Z
timed_rates = st.lists(
    st.builds(FxRate, st.sampled_from(["USD", "EUR"]), st.just("GBP"), st.sampled_from(DAYS),
              st.integers(min_value=1, max_value=2 * 10**9), st.sampled_from(["ecb", "fed"]),
              st.integers(min_value=_DAY0, max_value=_DAY0 + 5 * DAY_MS)),
    max_size=12,
)


@settings(max_examples=200)
@given(timed_rates, st.lists(st.tuples(st.sampled_from(["USD", "EUR", "GBP"]),
                                       st.integers(min_value=_DAY0 - DAY_MS,
                                                   max_value=_DAY0 + 5 * DAY_MS)),
                             min_size=1, max_size=12))
def test_expected_fx_memo_answers_as_the_rule(published: list[FxRate],
                                              receipts: list[tuple[str, int]]) -> None:
    """The workers' per-day memo of the fx a receipt must carry, including receipts issued
    before a rate of their day was published (they get the rate in force then)."""
    ctx = _Context({}, {}, published, "GBP", {}, None, keyed_digests=False)
    for currency, at in receipts:  # in any order, through one memo
        day = utc_day(at)
        if currency == "GBP":
            expected = {"currency": "GBP", "rate": FX_ONE, "date": day, "source": IDENTITY_SOURCE}
        else:
            rate = select_rate(published, currency, "GBP", day, at)
            expected = None if rate is None else rate.as_receipt_fx()
        assert ctx.expected_fx(currency, at) == expected
