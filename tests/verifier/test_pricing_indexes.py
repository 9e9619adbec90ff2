"""The verifier's indexes answer exactly as the plain rules they speed up."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from receipts.pricebooks import SHIPPED_ENTRIES, build_price_book
from verifier.pricing import BookSchedule, FxRate, RateTable, latest_book, select_rate

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
