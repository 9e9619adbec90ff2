"""The JSON view's memoized formatting: same text as format_amount, and never shared state."""

from __future__ import annotations

from typing import Any

from verifier.jsonview import receipt_json
from verifier.money import format_amount


def _payload(prices: dict[str, int], rate: int) -> dict[str, Any]:
    return {"v": 1, "chain": "c0", "seq": 0, "prev": b"\x00" * 32, "id": "x",
            "issued_at": 1767225600123, "unit_prices": prices, "price_book": b"\x01" * 32,
            "cost": 5, "cost_reporting": None,
            "fx": {"currency": "GBP", "rate": rate, "date": "2026-01-01", "source": "ecb"}}


def test_memoized_prices_and_rates_read_as_formatted_and_are_never_shared() -> None:
    first = receipt_json(_payload({"input": 2_500_000, "output": 10_000_000}, 790_000_000))
    first["unit_prices"]["input"] = "tampered"
    first["fx"]["rate"] = "tampered"
    second = receipt_json(_payload({"input": 2_500_000, "output": 10_000_000}, 790_000_000))
    assert second["unit_prices"] == {"input": "2.500000", "output": "10.000000"}
    assert second["fx"]["rate"] == "0.790000000" == format_amount(790_000_000, 9)
    other = receipt_json(_payload({"output": 10_000_000, "input": 2_500_000}, 1))
    assert list(other["unit_prices"]) == ["output", "input"]  # the payload's order, kept
    assert other["fx"]["rate"] == "0.000000001"
    assert second["cost"] == "0.000000000005" and second["cost_reporting"] is None
