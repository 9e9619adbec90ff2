"""The audit's three outputs: a table for people, CSV and JSON for tools.

Money is printed exactly, as decimal strings of the book's currency with 12 decimals (the
receipt cost scale) in CSV and JSON; the table rounds half to even to 4 decimals for reading.
For ``pricing_mismatch`` and ``cache_as_input`` a warning's ``cost`` is the logged cost minus
the book's (what the log over- or under-states); for the other codes it is the spend involved.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from receipts.audit.analysis import CODES, AuditResult
from verifier.money import COST_SCALE, format_amount, to_decimal

VERDICT_READY, VERDICT_NOT_READY = "attribution-ready", "not attribution-ready"


def _money(units: int) -> str:
    return format_amount(units, COST_SCALE)


def _short(units: int) -> str:
    return str(to_decimal(units, COST_SCALE).quantize(Decimal("0.0001"), ROUND_HALF_EVEN))


def verdict(result: AuditResult) -> str:
    """The verdict line."""
    word = VERDICT_READY if result.ready else VERDICT_NOT_READY
    return (f"{word}: {result.share}% of spend attributable (required tags: "
            f"{', '.join(result.require) or 'none'}; bar {result.min_share}%)")


def as_json(result: AuditResult, currency: str, book: str) -> dict[str, Any]:
    """The JSON document (``--format json``)."""
    return {
        "records": result.records, "currency": currency, "price_book": book,
        "by": list(result.by), "require": list(result.require),
        "groups": [{"tags": dict(zip(result.by, key, strict=True)), "calls": g.calls,
                    "spend": _money(g.spend), "logged_cost": _money(g.logged_cost),
                    "unpriced_calls": g.unpriced_calls}
                   for key, g in _sorted_groups(result)],
        "total_spend": _money(result.total), "attributable_spend": _money(result.attributable),
        "attributable_share": str(result.share), "ready": result.ready,
        "verdict": VERDICT_READY if result.ready else VERDICT_NOT_READY,
        "warnings": [{"code": code, "count": b.count, "cost": _money(b.cost),
                      "lines": b.lines} for code in CODES
                     if (b := result.warnings[code]).count],
    }


def render(result: AuditResult, fmt: str, currency: str, book: str) -> str:
    """The whole output in ``fmt`` (``table``, ``csv`` or ``json``)."""
    if fmt == "json":
        return json.dumps(as_json(result, currency, book), indent=2) + "\n"
    if fmt == "csv":
        return _csv(result)
    return _table(result, currency)


def _sorted_groups(result: AuditResult) -> list[Any]:
    return sorted(result.groups.items(), key=lambda kv: (-kv[1].spend,
                                                         [v or "" for v in kv[0]]))


def _csv(result: AuditResult) -> str:
    """One CSV: ``section`` is ``group``, ``warning`` or ``verdict``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", *result.by, "calls", "spend", "logged_cost", "unpriced_calls",
                     "code", "count", "cost", "lines"])
    blank = [""] * len(result.by)
    for key, g in _sorted_groups(result):
        writer.writerow(["group", *(v or "" for v in key), g.calls, _money(g.spend),
                         _money(g.logged_cost), g.unpriced_calls, "", "", "", ""])
    for code in CODES:
        b = result.warnings[code]
        if b.count:
            writer.writerow(["warning", *blank, "", "", "", "", code, b.count, _money(b.cost),
                             " ".join(b.lines)])
    writer.writerow(["verdict", *blank, "", _money(result.total), "", "",
                     VERDICT_READY if result.ready else VERDICT_NOT_READY, "",
                     _money(result.attributable), str(result.share)])
    return out.getvalue()


def _table(result: AuditResult, currency: str) -> str:
    rows = [[*(v if v is not None else "(none)" for v in key), str(g.calls),
             _short(g.spend), _short(g.logged_cost), str(g.unpriced_calls)]
            for key, g in _sorted_groups(result)]
    header = [*result.by, "calls", f"spend {currency}", "logged", "unpriced"]
    lines = _columns([header, *rows])
    lines.append(f"total spend {_short(result.total)} {currency} over {result.records:,} "
                 "records")
    warned = [(code, result.warnings[code]) for code in CODES if result.warnings[code].count]
    if warned:
        lines.append("")
        lines += _columns([["warning", "count", f"cost {currency}", "first lines"]]
                          + [[code, str(b.count), _short(b.cost), " ".join(b.lines[:3])
                              + (" ..." if b.count > 3 else "")] for code, b in warned])
    lines += ["", verdict(result)]
    return "\n".join(lines) + "\n"


def _columns(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]
