"""``receipt rollup`` output: the rows of a :class:`~verifier.rollup.Rollup` as JSON, CSV or a
table (spec §8).

JSON and CSV are for programs and spreadsheets: every amount exact (12 decimals), a missing
value ``null`` (an empty CSV cell). The table is for people: amounts rounded to the currency's
minor unit (:mod:`verifier.minor_units`), ``—`` for a group with no priced receipt (its cost
is unknown, and printing 0 would hide spend), and notes under it saying what an empty cell,
``—`` and the rounding mean. Kept apart from the CLI so the commands stay about options and
exit codes, and the rendering is testable without a ledger.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from verifier.csvcell import spreadsheet_safe
from verifier.minor_units import display_amount
from verifier.money import COST_SCALE, format_amount
from verifier.rollup import UNATTRIBUTED, Rollup, Row

NO_COST = "—"
"""The table's cost cell for a group without any priced receipt."""

COUNT_COLUMNS = ("receipts", "unpriced", "retries")


def row_json(rollup: Rollup, row: Row) -> dict[str, Any]:
    """One row as JSON: ``--by`` values (null: no such tag), period, currency, counts, ``cost``
    as an exact decimal string (null: nothing priced) and tokens per category."""
    spec = rollup.spec
    out: dict[str, Any] = dict(zip(spec.by, row.values, strict=True))
    if spec.period:
        out["period"] = row.period
    group = row.group
    out["currency"] = row.currency
    out["receipts"] = group.receipts
    out["unpriced"] = group.unpriced
    out["retries"] = group.retries
    amount = group.amount
    out["cost"] = None if amount is None else format_amount(amount, COST_SCALE)
    out["tokens"] = dict(sorted(group.tokens.items()))
    return out


def rows_json(rollup: Rollup) -> list[dict[str, Any]]:
    """Every row as JSON, in the order of spec §8."""
    return [row_json(rollup, row) for row in rollup.rows()]


def _flat(rows: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows with ``tokens`` spread into one ``tokens_<category>`` column per category present
    in any row (0 where absent)."""
    categories = sorted({c for r in rows for c in r["tokens"]})
    flat = []
    for r in rows:
        out = {k: v for k, v in r.items() if k != "tokens"}
        out.update({f"tokens_{c}": r["tokens"].get(c, 0) for c in categories})
        flat.append(out)
    columns = list(flat[0]) if flat else []
    return columns, flat


def render_json(rollup: Rollup) -> str:
    """The rows as a JSON list (money as exact decimal strings, missing values null)."""
    return json.dumps(rows_json(rollup), indent=2)


def render_csv(rollup: Rollup) -> str:
    """The rows as CSV: exact amounts, null as an empty cell, formula-like text defused."""
    columns, flat = _flat(rows_json(rollup))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in flat)
    return out.getvalue().rstrip("\n")


def _table_cells(rows: list[Row], columns: list[str], flat: list[dict[str, Any]]
                 ) -> list[list[str]]:
    cells = []
    for row, values in zip(rows, flat, strict=True):
        line = []
        for c in columns:
            if c == "cost":
                amount = row.group.amount  # priced: the group has a currency
                line.append(NO_COST if amount is None or row.currency is None
                            else display_amount(amount, row.currency))
            else:
                line.append("" if values[c] is None else str(values[c]))
        cells.append(line)
    return cells


def _notes(rollup: Rollup, rows: list[Row]) -> list[str]:
    """What the table's empty cells, dashes and rounded amounts mean."""
    notes = []
    unattributed = [name for i, name in enumerate(rollup.spec.by)
                    if any(r.values[i] is None for r in rows)]
    if unattributed:
        notes.append(f"An empty {', '.join(unattributed)} cell {UNATTRIBUTED}: receipts "
                     "without that tag, or with an empty value.")
    if any(r.group.amount is not None for r in rows):
        notes.append("Costs are rounded to each currency's minor unit (half to even); "
                     "--format csv or json gives them exact.")
    if any(r.group.amount is None for r in rows):
        notes.append(f"{NO_COST} in cost: no priced receipt in the group (its spend is unknown, "
                     "not 0).")
    unpriced = sum(r.group.unpriced for r in rows)
    if unpriced:
        notes.append(f"{unpriced} unpriced receipt(s) are counted in 'unpriced', not in cost.")
    if rollup.excluded_retries:
        notes.append(f"{rollup.excluded_retries} retry receipt(s) left out (--exclude-retries).")
    return notes


def render_table(rollup: Rollup) -> str:
    """The rows aligned for reading, numbers right-aligned, then the notes."""
    rows = rollup.rows()
    columns, flat = _flat([row_json(rollup, row) for row in rows])
    notes = _notes(rollup, rows)
    if flat:
        cells = _table_cells(rows, columns, flat)
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
        numeric = {"cost", *COUNT_COLUMNS} | {c for c in columns if c.startswith("tokens_")}
        lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
        for row in cells:
            lines.append("  ".join(
                v.rjust(w) if c in numeric else v.ljust(w)
                for c, v, w in zip(columns, row, widths, strict=True)
            ))
        text = "\n".join(lines)
    else:
        text = "(no receipts)"
    return text + "\n\n" + "\n".join(notes) if notes else text


RENDERERS = {"table": render_table, "csv": render_csv, "json": render_json}
"""``--format`` name -> renderer."""
