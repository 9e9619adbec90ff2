"""A reconciliation printed: JSON and CSV with exact amounts, a table for people.

JSON and CSV keep every amount exact (12 decimals, the receipts' scale) and percentages to 4
decimals; the table rounds amounts to the currency's minor unit (half to even) and says so.
Variance is invoice minus ledger; a cell's percentage is of its invoice amount (none when the
invoice bills nothing).
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

from receipts.reconcile.matching import Cell
from receipts.reconcile.summary import Reconciliation
from receipts.reconcile.teams import TeamRow, percent
from verifier.csvcell import spreadsheet_safe
from verifier.minor_units import display_amount
from verifier.money import COST_SCALE, format_amount
from verifier.rollup import UNATTRIBUTED


def _money(amount: int) -> str:
    return format_amount(amount, COST_SCALE)


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def cell_json(cell: Cell) -> dict[str, Any]:
    """One cell with exact amounts."""
    ledger, invoice = cell.ledger, cell.invoice
    return {
        "provider": cell.provider, "model": cell.model, "period": cell.period,
        "status": cell.status, "ledger": _money(cell.ledger_amount),
        "invoice": _money(cell.invoice_amount), "variance": _money(cell.variance),
        "variance_percent": _pct(percent(cell.variance, cell.invoice_amount)),
        "abs_variance": _money(abs(cell.variance)),
        "abs_variance_percent": _pct(percent(abs(cell.variance), cell.invoice_amount)),
        "receipts": ledger.receipts if ledger else 0,
        "unpriced_receipts": ledger.unpriced if ledger else 0,
        "invoice_lines": invoice.lines if invoice else 0,
        "billed_as": sorted(invoice.names) if invoice else [],
        "causes": [{"code": c.code, "amount": None if c.amount is None else _money(c.amount),
                    "detail": c.detail} for c in cell.causes],
        "explained": _money(cell.explained), "unexplained": _money(cell.unexplained),
    }


def team_json(result: Reconciliation, row: TeamRow) -> dict[str, Any]:
    """One team's chargeback line."""
    return {
        "team": row.team, "ledger": _money(row.ledger), "charged": _money(row.charged),
        "variance": _money(row.variance), "abs_variance": _money(row.abs_variance),
        "variance_percent": _pct(percent(row.variance, row.charged)),
        "abs_variance_percent": _pct(percent(row.abs_variance, row.charged)),
        "attributable": _money(row.attributable),
        "attributable_percent": _pct(percent(row.attributable, row.ledger)),
        "receipts": row.receipts, "unpriced_receipts": row.unpriced,
        "meets_bar": result.bar.met(row.attributable, row.ledger, row.abs_variance,
                                    row.charged),
    }


def result_json(result: Reconciliation) -> dict[str, Any]:
    """The whole reconciliation as JSON-ready data."""
    t, side = result.totals, result.ledger
    return {
        "currency": result.currency,
        "compared_with": "cost" if side.mode == "native" else "cost_reporting",
        "period": result.period,
        "required_tags": list(result.require),
        "ledger": {"file": side.source, "receipts": side.receipts,
                   "other_currency": {c: _money(v) for c, v in sorted(side.other_currency.items())},
                   "other_currency_receipts": side.other_currency_receipts,
                   "not_invoiced_providers": {p: {"ledger": _money(a), "receipts": n}
                                              for p, (a, n) in result.uninvoiced.items()}},
        "invoices": list(result.invoices),
        "totals": {
            "ledger": _money(t.ledger), "invoice": _money(t.invoice),
            "matched_ledger": _money(t.matched_ledger),
            "matched_invoice": _money(t.matched_invoice),
            "ledger_only": _money(t.ledger_only), "invoice_only": _money(t.invoice_only),
            "variance": _money(t.variance),
            "variance_percent": _pct(percent(t.variance, t.invoice)),
            "abs_variance": _money(t.abs_variance),
            "abs_variance_percent": _pct(percent(t.abs_variance, t.invoice)),
            "explained": _money(t.explained), "unexplained": _money(t.unexplained),
            "attributable": _money(t.attributable),
            "attributable_percent": _pct(percent(t.attributable, t.ledger)),
            "unallocated": _money(result.teams.unallocated),
        },
        "bar": {"attributable_min_percent": str(result.bar.attributable_min),
                "variance_max_percent": str(result.bar.variance_max), "met": result.met},
        "cells": [cell_json(c) for c in result.cells],
        "teams": [team_json(result, r) for r in result.teams.teams],
    }


def render_json(result: Reconciliation) -> str:
    """Indented JSON."""
    return json.dumps(result_json(result), indent=2) + "\n"


CSV_COLUMNS = ("row", "period", "provider", "model", "team", "status", "ledger", "invoice",
               "variance", "variance_percent", "abs_variance", "abs_variance_percent",
               "explained", "unexplained", "causes", "attributable_percent", "meets_bar")


def render_csv(result: Reconciliation) -> str:
    """One row per cell, then one per team, then the total (``row`` says which)."""
    data = result_json(result)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n",
                            extrasaction="ignore")
    writer.writeheader()

    def write(row: dict[str, Any]) -> None:
        writer.writerow({k: _safe(v) for k, v in row.items() if k in CSV_COLUMNS})

    for cell in data["cells"]:
        write({**cell, "row": "cell", "causes": ";".join(c["code"] for c in cell["causes"])})
    for team in data["teams"]:
        write({**team, "row": "team", "team": team["team"] or "", "invoice": team["charged"]})
    t = data["totals"]
    write({"row": "total", "ledger": t["ledger"], "invoice": t["invoice"],
           "variance": t["variance"], "variance_percent": t["variance_percent"],
           "abs_variance": t["abs_variance"], "abs_variance_percent": t["abs_variance_percent"],
           "explained": t["explained"], "unexplained": t["unexplained"],
           "attributable_percent": t["attributable_percent"], "meets_bar": data["bar"]["met"]})
    return out.getvalue()


def _safe(value: Any) -> Any:
    """Defuse formula-like text (model names and tag values come from outside); amounts,
    negative ones included, stay numbers."""
    if isinstance(value, str):
        try:
            Decimal(value)
        except ArithmeticError:
            return spreadsheet_safe(value)
    return value


def _table(header: list[str], rows: list[list[str]], numeric: set[str]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for r in rows:
        lines.append("  ".join(v.rjust(w) if h in numeric else v.ljust(w)
                               for h, v, w in zip(header, r, widths, strict=True)).rstrip())
    return lines


def render_table(result: Reconciliation) -> str:
    """Cells, causes, teams and the verdict, for reading."""
    ccy = result.currency
    money = {"ledger", "invoice", "variance", "var %", "unexplained", "charged",
             "attributable %"}

    def shown(amount: int) -> str:
        return display_amount(amount, ccy)

    cell_rows, explanations = [], []
    for c in result.cells:
        pct = percent(c.variance, c.invoice_amount)
        cell_rows.append([c.period, c.provider, c.model, c.status, shown(c.ledger_amount),
                          shown(c.invoice_amount), shown(c.variance),
                          "" if pct is None else f"{pct:.2f}", shown(c.unexplained),
                          ",".join(x.code for x in c.causes)])
        for x in c.causes:
            if x.code == "alias":  # the same names every period: said once per model
                line = f"  {c.provider}/{c.model} alias: {x.detail}"
                if line not in explanations:
                    explanations.append(line)
                continue
            amount = "" if x.amount is None else f" [{shown(x.amount)}]"
            explanations.append(f"  {c.period} {c.provider}/{c.model} {x.code}{amount}: "
                                f"{x.detail}")
    lines = [f"Reconciliation in {ccy} per {result.period} (variance = invoice - ledger)", ""]
    lines += _table(["period", "provider", "model", "status", "ledger", "invoice", "variance",
                     "var %", "unexplained", "causes"], cell_rows, money)
    if explanations:
        lines += ["", "Causes:", *explanations]
    team_rows = []
    for row in result.teams.teams:
        j = team_json(result, row)
        team_rows.append([row.team or UNATTRIBUTED, shown(row.ledger), shown(row.charged),
                          shown(row.abs_variance), _two(j["abs_variance_percent"]),
                          _two(j["attributable_percent"]), "yes" if j["meets_bar"] else "no"])
    lines += ["", "Chargeback per team (charged: the invoice split by the team's receipts):"]
    lines += _table(["team", "ledger", "charged", "|variance|", "var %", "attributable %",
                     "meets bar"], team_rows, money | {"|variance|"})
    lines += ["", *_summary(result)]
    return "\n".join(lines) + "\n"


def _two(pct: str | None) -> str:
    return "" if pct is None else f"{Decimal(pct):.2f}"


def _summary(result: Reconciliation) -> list[str]:
    t, ccy, side = result.totals, result.currency, result.ledger

    def shown(amount: int) -> str:
        return display_amount(amount, ccy)

    attributable = percent(t.attributable, t.ledger)
    gross = percent(t.abs_variance, t.invoice)
    lines = [
        f"Ledger {shown(t.ledger)} = matched {shown(t.matched_ledger)} + ledger-only "
        f"{shown(t.ledger_only)}; invoice {shown(t.invoice)} = matched "
        f"{shown(t.matched_invoice)} + invoice-only {shown(t.invoice_only)}.",
        f"Net variance {shown(t.variance)}: explained {shown(t.explained)}, unexplained "
        f"{shown(t.unexplained)}; gross |variance| {shown(t.abs_variance)} "
        f"({'n/a' if gross is None else f'{gross:.2f}%'} of the invoice).",
        f"Attributable (tags {', '.join(result.require)}): "
        f"{'n/a' if attributable is None else f'{attributable:.2f}%'} of the ledger; "
        f"unallocated invoice {shown(result.teams.unallocated)}.",
    ]
    if side.other_currency:
        other = ", ".join(f"{c} {format_amount(v, COST_SCALE)}"
                          for c, v in sorted(side.other_currency.items()))
        lines.append(f"Not compared: {side.other_currency_receipts} receipt(s) in another "
                     f"currency ({other}); no rate in the ledger converts them to {ccy}.")
    if result.uninvoiced:
        skipped = ", ".join(f"{p} {shown(a)} ({n} receipts)"
                            for p, (a, n) in result.uninvoiced.items())
        lines.append(f"Not compared (no invoice given for the provider): {skipped}.")
    if side.mode == "reporting":
        lines.append(f"Compared in the ledger's reporting currency {ccy} at each receipt's "
                     "own signed rate.")
    verdict = "MET" if result.met else "NOT MET"
    lines.append(f"Chargeback bar (>= {result.bar.attributable_min}% attributable, <= "
                 f"{result.bar.variance_max}% variance): {verdict}.")
    lines.append("Amounts rounded to the currency's minor unit; --format csv or json gives "
                 "them exact.")
    return lines


RENDERERS = {"table": render_table, "csv": render_csv, "json": render_json}
