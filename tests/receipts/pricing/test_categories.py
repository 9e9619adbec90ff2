"""Fitting disjoint counts to what an entry prices, and service tier names."""

from __future__ import annotations

import pytest

from receipts.pricing.categories import CATEGORIES, INPUT_CATEGORIES, fit_usage
from receipts.pricing.tiers import in_window, normalize_service_tier, parse_window, window_name


def test_unpriced_categories_fold_into_their_first_priced_parent() -> None:
    usage = {"input": 100, "cache_write": 20, "cache_write_1h": 5, "input_audio": 7,
             "cache_read_audio": 3, "output": 50, "output_audio": 4}
    assert fit_usage(usage, {}, {"input", "cache_read", "output"}) == {
        "input": 132, "cache_read": 3, "output": 54}
    assert fit_usage(usage, {}, {"input", "cache_write", "input_audio", "output"}) == {
        "input": 100, "cache_write": 25, "input_audio": 10, "output": 54}


def test_categories_without_a_priced_parent_stay_to_be_reported_unpriced() -> None:
    assert fit_usage({"input": 1, "web_search": 2}, {}, {"input"}) == {"input": 1,
                                                                       "web_search": 2}


def test_reasoning_is_split_out_only_where_priced_separately() -> None:
    usage, detail = {"input": 10, "output": 100}, {"reasoning": 60}
    assert fit_usage(usage, detail, {"input", "output"}) == {"input": 10, "output": 100}
    assert fit_usage(usage, detail, {"input", "output", "output_reasoning"}) == {
        "input": 10, "output": 40, "output_reasoning": 60}


def test_per_request_fees_add_one_request_and_zeros_disappear() -> None:
    assert fit_usage({"input": 0, "output": 3}, {}, {"input", "output", "request"}) == {
        "output": 3, "request": 1}


def test_fitting_never_changes_the_number_of_tokens() -> None:
    usage = {name: i + 1 for i, name in enumerate(CATEGORIES)
             if CATEGORIES[name].unit == "token"}
    for priced in ({"input", "output"}, {"input", "cache_read", "cache_write", "output"},
                   set(CATEGORIES)):
        fitted = fit_usage(usage, {}, priced)
        tokens = {k: v for k, v in fitted.items() if CATEGORIES[k].unit == "token"}
        assert sum(tokens.values()) == sum(usage.values())
        assert set(fitted) <= priced


def test_input_categories_are_the_input_token_categories() -> None:
    assert "input" in INPUT_CATEGORIES and "cache_write_1h" in INPUT_CATEGORIES
    assert "output" not in INPUT_CATEGORIES and "web_search" not in INPUT_CATEGORIES


@pytest.mark.parametrize(("raw", "name"), [
    (None, None), ("standard", None), ("default", None), ("auto", None), ("ON_DEMAND", None),
    ("Batch", "batch"), ("flex", "flex"), ("ON_DEMAND_PRIORITY", "priority"),
    ("ON_DEMAND_FLEX", "flex"), ("PROVISIONED_THROUGHPUT", "provisioned"), (" ", None),
])
def test_service_tier_spellings(raw: str | None, name: str | None) -> None:
    assert normalize_service_tier(raw) == name


def test_window_names_round_trip_and_wrap_past_midnight() -> None:
    assert window_name(90, 16 * 60 + 30) == "window:01:30-16:30Z"
    assert parse_window("window:01:30-16:30Z") == (90, 990)
    assert parse_window("batch") is None
    minute = 60_000
    assert in_window(22 * 60, 60, 23 * 60 * minute)
    assert in_window(22 * 60, 60, 30 * minute)
    assert not in_window(22 * 60, 60, 60 * minute)
    assert in_window(90, 990, 90 * minute) and not in_window(90, 990, 990 * minute)
