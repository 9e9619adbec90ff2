"""SVG charts for the dashboard and the reports, drawn on the server from exact amounts.

Why not a charting library: the pages must work offline with every asset served by the package,
and the charts we need (stacked daily bars, share bars, a budget burn-down) are a few rectangles
and one polyline each. Drawing them here keeps the page free of scripts, makes the SVG text
deterministic (a report regenerated from the same ledger is byte-identical) and lets a test read
the numbers back from each shape's ``<title>``. Amounts stay :class:`~decimal.Decimal` until the
last step, where a coordinate (never a displayed amount) is rounded to 0.1 px.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
"""Tableau 10: distinguishable colours, also in grey-scale print. Series past the tenth share
the last colour ("other")."""

OTHER = "other"


@dataclass(frozen=True)
class Series:
    """One stacked series: a label and one amount per x position (None: no priced spend)."""

    label: str
    values: Sequence[Decimal | None]


def colour(index: int) -> str:
    """The colour of the ``index``-th series."""
    return PALETTE[min(index, len(PALETTE) - 1)]


def _px(value: Decimal) -> str:
    """A coordinate, rounded to a tenth of a pixel (display only)."""
    return f"{value.quantize(Decimal('0.1')):f}"


def _svg_open(width: int, height: int, label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{escape(label)}" class="chart">')


def fold_series(series: Sequence[Series], keep: int = len(PALETTE) - 1) -> list[Series]:
    """At most ``keep`` series by total amount, the rest summed into one ``other`` series."""
    def total(s: Series) -> Decimal:
        return sum((v for v in s.values if v is not None), Decimal(0))

    ranked = sorted(series, key=lambda s: (-total(s), s.label))
    if len(ranked) <= keep + 1:
        return ranked
    rest = ranked[keep:]
    width = len(rest[0].values)
    summed: list[Decimal | None] = []
    for i in range(width):
        parts = [v for s in rest if (v := s.values[i]) is not None]
        summed.append(sum(parts, Decimal(0)) if parts else None)
    return [*ranked[:keep], Series(OTHER, summed)]


def stacked_bars(labels: Sequence[str], series: Sequence[Series], unit: str,
                 width: int = 720, height: int = 240) -> str:
    """Stacked vertical bars, one per label (a day), one colour per series, with a legend.

    Each segment's ``<title>`` reads ``"<series> <label>: <amount> <unit>"`` so a person can
    hover it and a test can read the amount back.
    """
    top, bottom, left = 10, 40, 8
    plot_h = Decimal(height - top - bottom)
    totals = [sum((s.values[i] or Decimal(0) for s in series), Decimal(0))
              for i in range(len(labels))]
    peak = max(totals, default=Decimal(0)) or Decimal(1)
    slot = Decimal(width - 2 * left) / max(len(labels), 1)
    bar = slot * Decimal("0.8")
    parts = [_svg_open(width, height, f"spend per day, {unit}")]
    for i, label in enumerate(labels):
        x = Decimal(left) + slot * i + (slot - bar) / 2
        y = Decimal(top) + plot_h
        for index, s in enumerate(series):
            amount = s.values[i]
            if not amount:
                continue
            h = plot_h * amount / peak
            y -= h
            parts.append(
                f'<rect x="{_px(x)}" y="{_px(y)}" width="{_px(bar)}" height="{_px(h)}" '
                f'fill="{colour(index)}"><title>{escape(s.label)} {escape(label)}: '
                f'{amount:f} {escape(unit)}</title></rect>')
    if labels:
        for i in sorted({0, len(labels) - 1}):
            anchor = "start" if i == 0 else "end"
            x = Decimal(left) + slot * i + (slot if i else 0)
            parts.append(f'<text x="{_px(x)}" y="{height - bottom + 14}" font-size="11" '
                         f'text-anchor="{anchor}">{escape(labels[i])}</text>')
    parts.append(_legend(series, y=height - 12))
    parts.append("</svg>")
    return "".join(parts)


def _legend(series: Sequence[Series], y: int) -> str:
    items = []
    x = 8
    for index, s in enumerate(series):
        items.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" '
                     f'fill="{colour(index)}"/><text x="{x + 14}" y="{y}" font-size="11">'
                     f'{escape(s.label)}</text>')
        x += 24 + 7 * min(len(s.label), 24)
    return "".join(items)


def share_bar(shares: Mapping[str, Decimal], width: int = 720, height: int = 56) -> str:
    """One horizontal bar split by share (fractions of 1), largest first, labelled in %."""
    parts = [_svg_open(width, height, "share of spend")]
    x = Decimal(0)
    ranked = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))
    for index, (label, share) in enumerate(ranked):
        w = Decimal(width) * share
        percent = (share * 100).quantize(Decimal("0.1"))
        parts.append(f'<rect x="{_px(x)}" y="0" width="{_px(w)}" height="28" '
                     f'fill="{colour(index)}"><title>{escape(label)}: {percent}%</title></rect>')
        if w > 60:
            parts.append(f'<text x="{_px(x + 4)}" y="18" font-size="12" fill="#fff">'
                         f'{escape(label)} {percent}%</text>')
        x += w
    parts.append("</svg>")
    return "".join(parts)


def burn_down(spent_by_day: Sequence[Decimal], days_in_period: int, limit: Decimal,
              forecast: Decimal | None, width: int = 320, height: int = 120) -> str:
    """Cumulative spend against a budget's limit, with the straight-line forecast dashed."""
    top, pad = 8, 4
    peak = max([limit, forecast or Decimal(0), *spent_by_day, Decimal(1)])
    plot_h = Decimal(height - top - pad)
    step = Decimal(width - 2 * pad) / max(days_in_period - 1, 1)

    def point(day: int, amount: Decimal) -> str:
        return f"{_px(pad + step * day)},{_px(top + plot_h - plot_h * amount / peak)}"

    limit_y = _px(top + plot_h - plot_h * limit / peak)
    parts = [_svg_open(width, height, "budget burn-down"),
             f'<line x1="{pad}" x2="{width - pad}" y1="{limit_y}" y2="{limit_y}" '
             f'stroke="#e15759" stroke-width="1"><title>limit: {limit:f}</title></line>']
    if spent_by_day:
        line = " ".join(point(d, a) for d, a in enumerate(spent_by_day))
        parts.append(f'<polyline points="{line}" fill="none" stroke="#4e79a7" '
                     f'stroke-width="2"><title>spent: {spent_by_day[-1]:f}</title></polyline>')
        if forecast is not None:
            parts.append(
                f'<polyline points="{point(len(spent_by_day) - 1, spent_by_day[-1])} '
                f'{point(days_in_period - 1, forecast)}" fill="none" stroke="#4e79a7" '
                f'stroke-dasharray="4 3"><title>forecast: {forecast:f}</title></polyline>')
    parts.append("</svg>")
    return "".join(parts)
