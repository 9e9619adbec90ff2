"""Steps 7 and 8's selections (spec §5.2, §5.4): the book in force and the FX rate.

Each rule has one implementation (``BookSchedule.in_force``, ``select_rate``, ``receipt_fx``);
``RateTable`` only remembers ``select_rate``'s answer per day. The tests hold them to the rules
as the spec words them.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.verifier.signer import BOOK
from verifier.encoding import encode
from verifier.money import FX_ONE
from verifier.pricing import (
    IDENTITY_SOURCE,
    BookSchedule,
    FxRate,
    PriceBook,
    RateTable,
    latest_book,
    receipt_fx,
    select_rate,
)
from verifier.rollup import DAY_MS, utc_day

DAYS = ["2025-11-28", "2025-11-29", "2025-11-30", "2025-12-01", "2025-12-02"]
_DAY0 = 1_764_288_000_000  # 2025-11-28T00:00:00Z
rates = st.lists(
    st.builds(FxRate, st.sampled_from(["USD", "EUR"]), st.sampled_from(["GBP", "EUR"]),
              st.sampled_from(DAYS), st.integers(min_value=1, max_value=2 * 10**9),
              st.sampled_from(["ecb", "fed"]),
              st.integers(min_value=_DAY0, max_value=_DAY0 + 5 * DAY_MS)),
    max_size=12,
)


def _spec_rate(published: list[FxRate], base: str, quote: str, day: str, at: int
               ) -> FxRate | None:
    """§5.4 as worded: among rates for (base, quote) published no later than the receipt and
    dated no later than its UTC date, the latest date, then the latest publication."""
    eligible = [r for r in published if (r.base, r.quote) == (base, quote)
                and r.date <= day and r.published_at <= at]
    return max(eligible, key=lambda r: (r.date, r.published_at), default=None)


@settings(max_examples=200)
@given(rates, st.lists(st.tuples(st.sampled_from(["USD", "EUR"]), st.sampled_from(["GBP", "EUR"]),
                                 st.integers(min_value=_DAY0 - DAY_MS,
                                             max_value=_DAY0 + 6 * DAY_MS)),
                       min_size=1, max_size=10))
def test_rate_selection_is_the_spec_rule(published: list[FxRate],
                                         receipts: list[tuple[str, str, int]]) -> None:
    table = RateTable(published)
    for base, quote, at in receipts:  # several receipts per day, in any order, one memo
        day = utc_day(at)
        expected = _spec_rate(published, base, quote, day, at)
        assert select_rate(published, base, quote, day, at) == expected
        assert table.select(base, quote, day, at) == expected


@settings(max_examples=200)
@given(rates, st.lists(st.tuples(st.sampled_from(["USD", "EUR", "GBP"]),
                                 st.integers(min_value=_DAY0 - DAY_MS,
                                             max_value=_DAY0 + 6 * DAY_MS)),
                       min_size=1, max_size=12))
def test_receipt_fx_is_the_identity_or_the_selected_rate(
        published: list[FxRate], receipts: list[tuple[str, int]]) -> None:
    table = RateTable(published)
    for currency, at in receipts:
        day = utc_day(at)
        expected: dict[str, Any] | None
        if currency == "GBP":
            expected = {"currency": "GBP", "rate": FX_ONE, "date": day, "source": IDENTITY_SOURCE}
        else:
            rate = _spec_rate(published, currency, "GBP", day, at)
            expected = None if rate is None else {"currency": "GBP", "rate": rate.rate,
                                                  "date": rate.date, "source": rate.source}
        assert receipt_fx(currency, "GBP", table, at) == expected


def _book(start: int, source: str) -> PriceBook:
    payload = {**BOOK, "effective_from": start, "created_at": start, "source": source}
    return PriceBook.from_payload(payload, encode(payload))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=100), st.sampled_from("abc")),
                min_size=1, max_size=6, unique=True),
       st.lists(st.integers(min_value=-5, max_value=110), min_size=1, max_size=10))
def test_book_in_force_is_the_spec_rule(starts: list[tuple[int, str]], times: list[int]) -> None:
    """§5.2: the greatest effective_from not after the time, equal ones by the greater id."""
    books = [_book(start, source) for start, source in starts]
    schedule = BookSchedule(books)
    for at in times:
        eligible = [b for b in books if b.effective_from <= at]
        expected = max(eligible, key=lambda b: (b.effective_from, b.id), default=None)
        assert schedule.in_force(at) is expected
        assert latest_book(books, at) is expected
