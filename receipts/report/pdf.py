"""The monthly report as a PDF, with fpdf2 (pure Python; the ``pdf`` extra).

The tables are the HTML report's. The daily chart is drawn natively as stacked rectangles in
the dashboard palette, from the same amounts as the HTML's SVG: fpdf2 renders SVG paths but
not SVG text, so drawing it here keeps it legible. The built-in Helvetica font covers Latin-1;
a label outside it is printed with ``?`` for the characters it lacks (the JSON keeps them).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from receipts.errors import ExtraMissing
from receipts.report.allocations import pdf_section as pdf_allocations
from receipts.report.build import rounded

FIXED_DATE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""The PDF's creation date: fixed, so the same report gives the same bytes."""


def latin1(value: Any) -> str:
    """``value`` as text the core fonts print (``(none)`` for None; ``?`` outside Latin-1)."""
    text = "(none)" if value is None else str(value)
    return text.encode("latin-1", "replace").decode("latin-1")


def _percent(share: str | None) -> str:
    return "-" if share is None else f"{(Decimal(share) * 100).quantize(Decimal('0.1'))}%"


def table(pdf: Any, head: list[str], rows: list[list[str]], widths: list[int]) -> None:
    """A table: bold header, then rows (first column left, the rest right-aligned)."""
    pdf.set_font("Helvetica", "B", 9)
    for i, (text, w) in enumerate(zip(head, widths, strict=True)):
        pdf.cell(w, 6, latin1(text), border="B", align="L" if i == 0 else "R")
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for row in rows:
        for i, (text, w) in enumerate(zip(row, widths, strict=True)):
            pdf.cell(w, 5, latin1(text), align="L" if i == 0 else "R")
        pdf.ln()
    pdf.ln(3)


def heading(pdf: Any, text: str) -> None:
    """A section heading."""
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, latin1(text), new_x="LMARGIN", new_y="NEXT")


def _chart(pdf: Any, report: dict[str, Any]) -> None:
    from receipts.dashboard.charts import colour

    days = report["daily"]
    if not days:
        return
    teams = sorted({t for d in days for t in d["teams"]})
    totals = [sum(Decimal(v) for v in d["teams"].values()) for d in days]
    peak = max(totals) or Decimal(1)
    x0, y0 = Decimal(str(pdf.l_margin)), Decimal(str(pdf.get_y()))
    width, height = 180, 40
    slot = Decimal(width) / len(days)
    for i, d in enumerate(days):
        y = Decimal(y0 + height)
        for index, team in enumerate(teams):
            amount = Decimal(d["teams"].get(team, "0"))
            if amount <= 0:
                continue
            h = Decimal(height) * amount / peak
            y -= h
            rgb = colour(min(index, 9)).lstrip("#")
            pdf.set_fill_color(*(int(rgb[k:k + 2], 16) for k in (0, 2, 4)))
            pdf.rect(float(x0 + slot * i + slot / 10), float(y), float(slot * 8 / 10),
                     float(h), style="F")
    pdf.set_y(float(y0) + height + 1)
    pdf.set_font("Helvetica", "", 7)
    pdf.cell(40, 4, f"{days[0]['day']} .. {days[-1]['day']}")
    for index, team in enumerate(teams[:10]):
        rgb = colour(index).lstrip("#")
        pdf.set_fill_color(*(int(rgb[k:k + 2], 16) for k in (0, 2, 4)))
        pdf.rect(pdf.get_x(), pdf.get_y() + 0.8, 2.5, 2.5, style="F")
        pdf.cell(3.5, 4, "")
        pdf.cell(pdf.get_string_width(latin1(team or "(no team)")) + 4, 4,
                 latin1(team or "(no team)"))
    pdf.ln()
    pdf.ln(2)


def render_pdf(report: dict[str, Any]) -> bytes:
    """The PDF's bytes."""
    try:
        from fpdf import FPDF
    except ImportError:
        raise ExtraMissing("PDF reports need the pdf extra: pip install 'receipts[pdf]'"
                           ) from None
    cur = report["currency"]

    def amount(v: str | None) -> str:
        return rounded(v, cur)

    pdf = FPDF()
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_compression(False)  # text streams readable as they are (a report is small)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    title = f"Spend report {report['month']}" + (f" - team {report['team']}"
                                                 if report["team"] else "")
    pdf.cell(0, 10, latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(0, 4, latin1(f"Amounts in {cur}, rounded to the minor unit. Source: "
                               f"{report['source']}"), new_x="LMARGIN", new_y="NEXT")
    s = report["summary"]
    heading(pdf, "Executive summary")
    table(pdf, ["", "Amount"], [
        ["Total", amount(s["cost"])], ["Receipts", str(s["receipts"])],
        [s["previous_month"], amount(s["previous_cost"])],
        ["Change", f"{amount(s['change'])} ({_percent(s['change_ratio'])})"]], [60, 50])
    table(pdf, ["Top driver", "Cost", "Share"], [
        [f"{latin1(d['team'])} / {latin1(d['project'])} / {latin1(d['model'])}",
         amount(d["cost"]), _percent(d["share"])] for d in s["top_drivers"]], [110, 40, 30])
    _chart(pdf, report)
    heading(pdf, "Cost centers")
    table(pdf, ["Cost center", "Actual", "Budget", "Remaining", "Used", "Year to date"], [
        [latin1(c["cost_center"]), amount(c["cost"]), amount(c["budget"]),
         amount(c["remaining"]), _percent(c["used"]), amount(c["year_to_date"])]
        for c in report["cost_centers"]], [50, 28, 28, 28, 18, 28])
    heading(pdf, "Teams and projects")
    rows = []
    for t in report["teams"]:
        rows.append([latin1(t["team"]), "", str(t["receipts"]), amount(t["cost"])])
        for p in t["projects"]:
            rows.append([f"   {latin1(p['project'])}", "", str(p["receipts"]), amount(p["cost"])])
            rows += [[f"      {latin1(m['provider'])}/{latin1(m['model'])}", "",
                      str(m["receipts"]), amount(m["cost"])] for m in p["models"]]
    table(pdf, ["Team / project / model", "", "Receipts", "Cost"], rows, [100, 10, 30, 40])
    pdf_allocations(pdf, report, amount, heading, table)
    heading(pdf, "Anomaly review")
    if report["anomalies"] is None:
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(0, 6, "No alert store in this source.", new_x="LMARGIN", new_y="NEXT")
    else:
        table(pdf, ["Alert", "Kind", "Scope", "Raised"], [
            [a["id"], a["kind"], a["scope"], a["created_at"]] for a in report["anomalies"]],
            [45, 35, 60, 40])
    f, u, a = report["forecast"], report["unallocated"], report["attribution"]
    heading(pdf, f"Forecast for {f['next_month']}")
    table(pdf, ["", "Amount"], [["Projected", amount(f["projected"])],
                                 ["Daily run rate", amount(f["daily_rate"])],
                                 ["Basis days", str(f["basis_days"])]], [60, 50])
    heading(pdf, "Unallocated (no team)")
    table(pdf, ["", "Amount"], [["Cost", amount(u["cost"])], ["Share", _percent(u["share"])],
                                 ["Receipts", str(u["receipts"])]], [60, 50])
    heading(pdf, "Attribution confidence")
    table(pdf, ["Required tags", "Attributed", "Total", "Confidence"], [
        [", ".join(a["required_tags"]), amount(a["attributed"]), amount(a["total"]),
         _percent(a["confidence"])]], [60, 40, 40, 30])
    _chargeback(pdf, report["chargeback"])
    return bytes(pdf.output())


def _chargeback(pdf: Any, c: dict[str, Any]) -> None:
    heading(pdf, "Showback and chargeback")
    pdf.set_font("Helvetica", "", 8)
    variance = (f"|variance| at most {c['variance_max_percent']}% against "
                f"{', '.join(c['invoices'])} ({c['invoice_currency']})" if c["invoices"]
                is not None else f"no invoice reconciled (variance, at most "
                                 f"{c['variance_max_percent']}%, not checked)")
    pdf.multi_cell(0, 4, latin1(f"Chargeback-ready: at least {c['attributable_min_percent']}% "
                               f"of spend attributable; {variance}. {c['ready']} of "
                               f"{len(c['teams'])} teams ready."),
                   new_x="LMARGIN", new_y="NEXT")
    rows = []
    for t in c["teams"]:
        v = t["variance"]
        shown = "-" if v is None else ("not invoiced" if v["met"] is None else
                                       _pct4(v["percent"]))
        rows.append([latin1(t["team"]), "ready" if t["status"] == "chargeback_ready" else
                     "showback", _pct4(t["attributable"]["percent"]), shown])
    table(pdf, ["Team", "Status", "Attributable", "|Variance|"], rows, [70, 35, 35, 40])
    pdf.set_font("Helvetica", "", 8)
    for t in c["teams"]:
        for why in t["why_not"]:
            pdf.multi_cell(0, 4, latin1(f"{t['team']}: {why}"), new_x="LMARGIN", new_y="NEXT")


def _pct4(value: str | None) -> str:
    return "-" if value is None else f"{value}%"
