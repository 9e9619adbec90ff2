"""The monthly report printed: JSON and CSV exact, HTML and PDF rounded for people.

JSON is the structure of :func:`receipts.report.build.build` with sorted keys and no
whitespace choice left to chance, so the same facts give the same bytes. CSV is one long table
(section, name, metric, value) a spreadsheet can pivot. HTML is rendered with Jinja2 from the
package's own template, charts inline as SVG drawn by the dashboard's chart module. PDF (the
``pdf`` extra, fpdf2) draws the same tables and draws the daily chart natively as rectangles
(fpdf2 does not render SVG text): the numbers are the HTML's.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from receipts.report.allocations import csv_lines as allocation_lines
from receipts.report.build import rounded
from verifier.csvcell import spreadsheet_safe


def to_json(report: dict[str, Any]) -> bytes:
    """Deterministic JSON (sorted keys, fixed separators, one trailing newline)."""
    return (json.dumps(report, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


def _label(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _lines(report: dict[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    s = report["summary"]
    for metric in ("cost", "receipts", "unpriced", "previous_cost", "change", "change_ratio"):
        yield "summary", report["month"], metric, s[metric]
    for d in s["top_drivers"]:
        name = f"{_label(d['team'])}/{_label(d['project'])}/{_label(d['model'])}"
        yield "driver", name, "cost", d["cost"]
    for c in report["cost_centers"]:
        for metric in ("cost", "receipts", "budget", "remaining", "used", "year_to_date"):
            yield "cost_center", _label(c["cost_center"]), metric, c[metric]
    for t in report["teams"]:
        for metric in ("cost", "receipts", "share", "year_to_date"):
            yield "team", _label(t["team"]), metric, t[metric]
        for p in t["projects"]:
            yield "project", f"{_label(t['team'])}/{_label(p['project'])}", "cost", p["cost"]
            for m in p["models"]:
                yield ("model", f"{_label(t['team'])}/{_label(p['project'])}/"
                       f"{_label(m['provider'])}/{_label(m['model'])}", "cost", m["cost"])
    for a in report["anomalies"] or []:
        yield "anomaly", a["id"], a["kind"], a["scope"]
    f = report["forecast"]
    for metric in ("basis_days", "daily_rate", "days_in_next_month", "projected"):
        yield "forecast", f["next_month"], metric, f[metric]
    u = report["unallocated"]
    for metric in ("cost", "receipts", "share"):
        yield "unallocated", "team", metric, u[metric]
    a = report["attribution"]
    for metric in ("attributed", "total", "confidence"):
        yield "attribution", ",".join(a["required_tags"]), metric, a[metric]
    for day in report["daily"]:
        for team, cost in day["teams"].items():
            yield "daily", f"{day['day']}/{team or '(none)'}", "cost", cost
    yield from allocation_lines(report)


def _chargeback_lines(report: dict[str, Any]) -> Iterator[tuple[str, str, str, Any, str]]:
    """The chargeback section's rows; the variance amounts are in the invoices' currency."""
    c = report["chargeback"]
    own = report["currency"]
    yield "chargeback_bar", "attributable", "min_percent", c["attributable_min_percent"], ""
    yield "chargeback_bar", "variance", "max_percent", c["variance_max_percent"], ""
    for t in c["teams"]:
        a, v = t["attributable"], t["variance"]
        yield "chargeback", t["team"], "status", t["status"], ""
        yield "chargeback", t["team"], "attributable", a["attributable"], own
        yield "chargeback", t["team"], "attributable_percent", a["percent"], ""
        if v is not None:
            yield "chargeback", t["team"], "abs_variance", v["abs_variance"], v["currency"]
            yield "chargeback", t["team"], "charged", v["charged"], v["currency"]
            yield "chargeback", t["team"], "variance_percent", v["percent"], ""
        for why in t["why_not"]:
            yield "chargeback", t["team"], "why_not", why, ""


def to_csv(report: dict[str, Any]) -> bytes:
    """The report as rows ``section,name,metric,value,currency`` (exact decimals; empty for
    none). The chargeback rows name the currency of their amounts (the variance is in the
    invoices') and leave it empty for the rest."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "name", "metric", "value", "currency"])
    rows = [(*line, report["currency"]) for line in _lines(report)]
    for section, name, metric, value, currency in [*rows, *_chargeback_lines(report)]:
        writer.writerow([section, spreadsheet_safe(name), metric,
                         "" if value is None else spreadsheet_safe(str(value)), currency])
    return out.getvalue().encode()


def _percent(share: str | None) -> str:
    return "-" if share is None else f"{(Decimal(share) * 100).quantize(Decimal('0.1'))}%"


def percent_of_hundred(value: str | None) -> str:
    """A percentage already in percent (the chargeback's), shown with its 4 decimals: rounded
    to fewer, a share just under a bar could read as at it."""
    return "-" if value is None else f"{value}%"


def charts(report: dict[str, Any]) -> dict[str, str]:
    """The report's SVG charts: spend per day stacked by team (amounts rounded to the minor
    unit, as every amount a person reads here), and each team's share."""
    from receipts.dashboard.charts import Series, fold_series, share_bar, stacked_bars

    days = [d["day"] for d in report["daily"]]
    currency = report["currency"]
    teams = sorted({t for d in report["daily"] for t in d["teams"]})
    series = [Series(t or "(no team)", [Decimal(rounded(d["teams"][t], currency))
                                        if t in d["teams"] else None
                                        for d in report["daily"]]) for t in teams]
    shares = {_label(t["team"]): Decimal(t["share"]) for t in report["teams"]
              if t["share"] is not None}
    return {"daily": stacked_bars([d[5:] for d in days], fold_series(series),
                                  report["currency"]),
            "share": share_bar(shares)}


def to_html(report: dict[str, Any]) -> bytes:
    """The report as a self-contained HTML page (no script, no external asset)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("receipts.report", "templates"),
                      autoescape=select_autoescape(("html",)), keep_trailing_newline=True)
    currency = report["currency"]
    env.filters["amount"] = lambda v: rounded(v, currency)
    env.filters["percent"] = _percent
    env.filters["label"] = _label
    env.filters["pct4"] = percent_of_hundred
    return env.get_template("report.html").render(r=report, charts=charts(report)).encode()


def to_pdf(report: dict[str, Any]) -> bytes:
    """The report as a PDF (needs the ``pdf`` extra)."""
    from receipts.report.pdf import render_pdf

    return render_pdf(report)


RENDERERS = {"json": to_json, "csv": to_csv, "html": to_html, "pdf": to_pdf}
MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "html": "text/html; charset=utf-8",
               "pdf": "application/pdf"}
