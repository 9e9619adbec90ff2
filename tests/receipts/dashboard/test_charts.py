"""The SVG charts: amounts read back from each shape's title, escaping, folding into "other"."""

from __future__ import annotations

import re
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from receipts.dashboard import charts


def test_each_segment_names_its_exact_amount_and_escapes_labels() -> None:
    svg = charts.stacked_bars(["2026-11-01", "2026-11-02"], [
        charts.Series("<search>", [Decimal("1.25"), None]),
        charts.Series("ads", [Decimal("0.5"), Decimal("2")])], "USD")
    titles = re.findall(r"<title>(.*?)</title>", svg)
    assert titles == ["&lt;search&gt; 2026-11-01: 1.25 USD", "ads 2026-11-01: 0.5 USD",
                      "ads 2026-11-02: 2 USD"]
    assert "<search>" not in svg


@given(st.lists(st.decimals(min_value=0, max_value=10**6, places=12, allow_nan=False),
                min_size=12, max_size=12))
def test_folding_keeps_every_amount(amounts: list[Decimal]) -> None:
    """Series past the ninth are summed into "other": the chart's total is unchanged."""
    series = [charts.Series(f"s{i}", [a]) for i, a in enumerate(amounts)]
    folded = charts.fold_series(series)
    assert len(folded) == len(charts.PALETTE)
    assert folded[-1].label == charts.OTHER
    assert sum((s.values[0] or Decimal(0) for s in folded), Decimal(0)) == sum(amounts)


def test_share_bar_and_burn_down_show_percent_and_limit() -> None:
    svg = charts.share_bar({"openai": Decimal("0.75"), "anthropic": Decimal("0.25")})
    assert "<title>openai: 75.0%</title>" in svg and "<title>anthropic: 25.0%</title>" in svg
    burn = charts.burn_down([Decimal(1), Decimal(3)], 30, Decimal(100), Decimal(45))
    assert "<title>limit: 100</title>" in burn and "<title>forecast: 45</title>" in burn
