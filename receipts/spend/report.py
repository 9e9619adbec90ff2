"""The spend answer: groups folded into the rows asked for, with totals, shares and changes.

Rows follow ``receipt rollup``'s rules (spec §8), so the two agree to the digit on the same
receipts: a ``by`` name that is not ``provider``, ``model`` or ``agent`` is a tag, a missing
or empty tag is ``null`` (unattributed), every row is also split by currency (the receipt's in
``native`` mode, the FX currency in ``reporting`` mode: a receipt without an FX rate has no
reporting cost, so it is unpriced there), a row with no priced receipt has ``cost`` null, and
rows are ordered by period, then cost (largest first), then their values as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from receipts.spend.query import FIELD_NAMES, Row, RowKey, SpendQuery, Window
from verifier.csvcell import spreadsheet_safe
from verifier.money import COST_SCALE, format_amount

SHARE_PLACES = Decimal("0.000001")


def _text_order(value: str | None) -> tuple[bool, str]:
    return (value is not None, value or "")


def _money(amount: int | None) -> str | None:
    return None if amount is None else format_amount(amount, COST_SCALE)


def _ratio(part: int, whole: int) -> str | None:
    if not whole:
        return None
    return str((Decimal(part) / Decimal(whole)).quantize(SHARE_PLACES, ROUND_HALF_EVEN))


def _average(row: Row) -> str | None:
    if not row.priced:
        return None
    units = (Decimal(row.cost) / row.priced).quantize(Decimal(1), ROUND_HALF_EVEN)
    return format_amount(int(units), COST_SCALE)


def _total_cost(rows: Iterable[tuple[RowKey, Row]]) -> dict[str | None, int]:
    """Priced cost per currency (a currency with nothing priced is absent)."""
    out: dict[str | None, int] = {}
    for key, row in rows:
        if row.priced:
            out[key[-1]] = out.get(key[-1], 0) + row.cost
    return out


def answer(q: SpendQuery, windows: list[Window], per_window: list[dict[RowKey, Row]],
           previous: dict[RowKey, Row]) -> dict[str, Any]:
    """``{"rows": [...], "total": {...}, "unattributed": {tag: {currency: cost}}}``."""
    everything = [(key, row) for rows in per_window for key, row in rows.items()]
    keep: set[RowKey] | None = None
    if q.top is not None:
        grand: dict[RowKey, int] = {}
        for key, row in everything:
            grand[key] = grand.get(key, 0) + row.cost
        ranked = sorted(grand, key=lambda k: (-grand[k], tuple(_text_order(v) for v in k)))
        keep = set(ranked[:q.top])
    out_rows: list[dict[str, Any]] = []
    for i, (window, rows) in enumerate(zip(windows, per_window, strict=True)):
        before = per_window[i - 1] if i else previous
        window_total = _total_cost(rows.items())
        ordered = sorted(rows.items(), key=lambda kr: (
            -kr[1].cost, tuple(_text_order(v) for v in kr[0])))
        for key, row in ordered:
            if keep is not None and key not in keep:
                continue
            out_rows.append(_row_json(q, window, key, row, window_total, before.get(key)))
    return {"rows": out_rows, "total": _total(everything), "unattributed": _unattributed(
        q, everything)}


def _row_json(q: SpendQuery, window: Window, key: RowKey, row: Row,
              window_total: dict[str | None, int], before: Row | None) -> dict[str, Any]:
    out: dict[str, Any] = dict(zip(q.by, key[:-1], strict=True))
    if q.period is not None:
        out["period"] = window.label
    amount = row.amount
    out.update({
        "currency": key[-1], "receipts": row.receipts, "unpriced": row.receipts - row.priced,
        "retries": row.retries, "cost": _money(amount),
        "cost_by_category": None if amount is None else {
            c: _money(v) for c, v in sorted(row.cost_by_category.items())},
        "tokens": dict(sorted(row.tokens.items())),
        "share": None if amount is None else _ratio(amount, window_total.get(key[-1], 0)),
        "avg_cost": _average(row), "agents": row.agents,
        "previous_cost": _money(before.amount) if before is not None else None,
    })
    return out


def _total(everything: list[tuple[RowKey, Row]]) -> dict[str, Any]:
    receipts = sum(r.receipts for _, r in everything)
    priced = sum(r.priced for _, r in everything)
    return {"receipts": receipts, "unpriced": receipts - priced,
            "retries": sum(r.retries for _, r in everything),
            "cost": {cur or "": _money(v) for cur, v in sorted(
                _total_cost(everything).items(), key=lambda cv: cv[0] or "")}}


def _unattributed(q: SpendQuery, everything: list[tuple[RowKey, Row]]) -> dict[str, Any]:
    """For each tag grouped by, the priced cost (per currency) of receipts without it."""
    out: dict[str, Any] = {}
    for i, name in enumerate(q.by):
        if name in FIELD_NAMES:
            continue
        missing = _total_cost((k, r) for k, r in everything if k[i] is None)
        out[name] = {cur or "": _money(v) for cur, v in sorted(
            missing.items(), key=lambda cv: cv[0] or "")}
    return out


def csv_text(q: SpendQuery, body: dict[str, Any]) -> str:
    """The rows as CSV: one ``cost_<category>`` and ``tokens_<category>`` column per category
    present, null as an empty cell, formula-like text defused (as ``receipt rollup``)."""
    rows = body["rows"]
    categories = sorted({c for r in rows for c in r["tokens"]})
    head = [*q.by, *(["period"] if q.period else []), "currency", "receipts", "unpriced",
            "retries", "cost", "share", "avg_cost", "agents", "previous_cost",
            *(f"cost_{c}" for c in categories), *(f"tokens_{c}" for c in categories)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(head)
    for r in rows:
        by_category = r["cost_by_category"] or {}
        line = [r.get(h) for h in head[:len(head) - 2 * len(categories)]]
        line += [by_category.get(c) for c in categories]
        line += [r["tokens"].get(c, 0) for c in categories]
        writer.writerow(["" if v is None else spreadsheet_safe(v) for v in line])
    return out.getvalue()
