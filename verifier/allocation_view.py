"""``receipt rollup --with-allocations`` output (spec §8.1): JSON, CSV or a table.

Like :mod:`verifier.rollup_view`: JSON and CSV exact (12 decimals), the table rounded to the
currency's minor unit with notes saying so. Allocation lines can be negative (a credit, the
receipts a split moved away), so amounts are written as numbers the spreadsheet reads, and only
text cells (group values) go through :func:`~verifier.csvcell.spreadsheet_safe`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from verifier.allocate import AllocatedRow, invoice_total
from verifier.csvcell import spreadsheet_safe
from verifier.minor_units import display_amount
from verifier.money import COST_SCALE, format_amount
from verifier.rollup import UNATTRIBUTED

MONEY_COLUMNS = ("receipts_cost", "total")


def signed_amount(units: int) -> str:
    """An exact signed decimal string of 10^-12 units (``-0.500000000000``)."""
    text = format_amount(abs(units), COST_SCALE)
    return "-" + text if units < 0 else text


def _display(units: int, currency: str | None) -> str:
    if currency is None:
        return signed_amount(units)
    text = display_amount(abs(units), currency)
    return "-" + text if units < 0 else text


def row_json(row: AllocatedRow) -> dict[str, Any]:
    """One row as JSON (spec §8.1): the set's ``by`` name as the group's key."""
    return {
        row.by: row.group, "period": row.period, "currency": row.currency,
        "allocation_set": row.allocation_set.hex() if row.allocation_set else None,
        "receipts": row.receipts, "unpriced": row.unpriced,
        "receipts_cost": signed_amount(row.receipts_cost),
        "lines": {name: signed_amount(amount) for name, amount in row.lines.items()},
        "total": signed_amount(row.total),
    }


def render_json(rows: Sequence[AllocatedRow]) -> str:
    """The rows as a JSON list, every amount exact."""
    return json.dumps([row_json(r) for r in rows], indent=2)


def group_column(rows: Sequence[AllocatedRow]) -> str:
    """The group column's name: the sets' ``by`` (``group`` if the months' sets differ)."""
    names = {r.by for r in rows}
    return names.pop() if len(names) == 1 else "group"


def _line_names(rows: Sequence[AllocatedRow]) -> list[str]:
    names: list[str] = []
    for row in rows:
        names += [n for n in row.lines if n not in names]
    return names


def render_csv(rows: Sequence[AllocatedRow]) -> str:
    """One column per rule (``line:<name>``, empty where the group has no line)."""
    by = group_column(rows)
    names = _line_names(rows)
    columns = [by, "period", "currency", "allocation_set", "receipts", "unpriced",
               "receipts_cost", *(f"line:{n}" for n in names), "total"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([spreadsheet_safe(c) for c in columns])
    for row in rows:
        data = row_json(row)
        writer.writerow([
            spreadsheet_safe(row.group) if row.group is not None else "", row.period,
            row.currency or "", data["allocation_set"] or "", row.receipts, row.unpriced,
            data["receipts_cost"], *(data["lines"].get(n, "") for n in names), data["total"],
        ])
    return out.getvalue().rstrip("\n")


def render_table(rows: Sequence[AllocatedRow]) -> str:
    """Rounded to the minor unit, each month's invoice total under its rows, then notes."""
    if not rows:
        return "(no receipts)"
    by = group_column(rows)
    names = _line_names(rows)
    columns = [by, "period", "receipts", "receipts_cost", *names, "total"]
    cells: list[list[str]] = []
    for row in rows:
        cells.append([row.group or "", row.period, str(row.receipts),
                      _display(row.receipts_cost, row.currency),
                      *(_display(row.lines[n], row.currency) if n in row.lines else ""
                        for n in names),
                      _display(row.total, row.currency)])
    for month in sorted({r.period for r in rows}):
        month_rows = [r for r in rows if r.period == month]
        cells.append(["invoice total", month, "", "", *("" for _ in names),
                      _display(invoice_total(month_rows), month_rows[0].currency)])
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    text_columns = {0, 1}
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    for line in cells:
        lines.append("  ".join(v.ljust(w) if i in text_columns else v.rjust(w)
                               for i, (v, w) in enumerate(zip(line, widths, strict=True))))
    notes = ["Amounts are rounded to the currency's minor unit (half to even); --format csv "
             "or json gives them exact, and the exact totals add up to the invoice total."]
    if any(r.group is None for r in rows):
        notes.append(f"An empty {by} cell {UNATTRIBUTED}: receipts without that tag, and "
                     "amounts no group could be given.")
    if any(r.allocation_set is None for r in rows):
        notes.append("Months without an allocation set in force show receipts only.")
    unpriced = sum(r.unpriced for r in rows)
    if unpriced:
        notes.append(f"{unpriced} receipt(s) without a reporting-currency cost are counted in "
                     "'unpriced', not in any amount.")
    return "\n".join(lines) + "\n\n" + "\n".join(notes)


RENDERERS = {"table": render_table, "csv": render_csv, "json": render_json}
