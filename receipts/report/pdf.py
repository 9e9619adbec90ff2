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


def _text(value: Any) -> str:
    text = "(none)" if value is None else str(value)
    return text.encode("latin-1", "replace").decode("latin-1")


def _percent(share: str | None) -> str:
    return "-" if share is None else f"{(Decimal(share) * 100).quantize(Decimal('0.1'))}%"


def _table(pdf: Any, head: list[str], rows: list[list[str]], widths: list[int]) -> None:
    pdf.set_font("Helvetica", "B", 9)
    for i, (text, w) in enumerate(zip(head, widths, strict=True)):
        pdf.cell(w, 6, _text(text), border="B", align="L" if i == 0 else "R")
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for row in rows:
        for i, (text, w) in enumerate(zip(row, widths, strict=True)):
            pdf.cell(w, 5, _text(text), align="L" if i == 0 else "R")
        pdf.ln()
    pdf.ln(3)


def _heading(pdf: Any, text: str) -> None:
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, _text(text), new_x="LMARGIN", new_y="NEXT")


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
        pdf.cell(pdf.get_string_width(_text(team or "(no team)")) + 4, 4,
                 _text(team or "(no team)"))
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
    pdf.cell(0, 10, _text(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(0, 4, _text(f"Amounts in {cur}, rounded to the minor unit. Source: "
                               f"{report['source']}"), new_x="LMARGIN", new_y="NEXT")
    s = report["summary"]
    _heading(pdf, "Executive summary")
    _table(pdf, ["", "Amount"], [
        ["Total", amount(s["cost"])], ["Receipts", str(s["receipts"])],
        [s["previous_month"], amount(s["previous_cost"])],
        ["Change", f"{amount(s['change'])} ({_percent(s['change_ratio'])})"]], [60, 50])
    _table(pdf, ["Top driver", "Cost", "Share"], [
        [f"{_text(d['team'])} / {_text(d['project'])} / {_text(d['model'])}",
         amount(d["cost"]), _percent(d["share"])] for d in s["top_drivers"]], [110, 40, 30])
    _chart(pdf, report)
    _heading(pdf, "Cost centers")
    _table(pdf, ["Cost center", "Actual", "Budget", "Remaining", "Used", "Year to date"], [
        [_text(c["cost_center"]), amount(c["cost"]), amount(c["budget"]),
         amount(c["remaining"]), _percent(c["used"]), amount(c["year_to_date"])]
        for c in report["cost_centers"]], [50, 28, 28, 28, 18, 28])
    _heading(pdf, "Teams and projects")
    rows = []
    for t in report["teams"]:
        rows.append([_text(t["team"]), "", str(t["receipts"]), amount(t["cost"])])
        for p in t["projects"]:
            rows.append([f"   {_text(p['project'])}", "", str(p["receipts"]), amount(p["cost"])])
            rows += [[f"      {_text(m['provider'])}/{_text(m['model'])}", "",
                      str(m["receipts"]), amount(m["cost"])] for m in p["models"]]
    _table(pdf, ["Team / project / model", "", "Receipts", "Cost"], rows, [100, 10, 30, 40])
    pdf_allocations(pdf, report, amount, _heading, _table)
    _heading(pdf, "Anomaly review")
    if report["anomalies"] is None:
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(0, 6, "No alert store in this source.", new_x="LMARGIN", new_y="NEXT")
    else:
        _table(pdf, ["Alert", "Kind", "Scope", "Raised"], [
            [a["id"], a["kind"], a["scope"], a["created_at"]] for a in report["anomalies"]],
            [45, 35, 60, 40])
    f, u, a = report["forecast"], report["unallocated"], report["attribution"]
    _heading(pdf, f"Forecast for {f['next_month']}")
    _table(pdf, ["", "Amount"], [["Projected", amount(f["projected"])],
                                 ["Daily run rate", amount(f["daily_rate"])],
                                 ["Basis days", str(f["basis_days"])]], [60, 50])
    _heading(pdf, "Unallocated (no team)")
    _table(pdf, ["", "Amount"], [["Cost", amount(u["cost"])], ["Share", _percent(u["share"])],
                                 ["Receipts", str(u["receipts"])]], [60, 50])
    _heading(pdf, "Attribution confidence")
    _table(pdf, ["Required tags", "Attributed", "Total", "Confidence"], [
        [", ".join(a["required_tags"]), amount(a["attributed"]), amount(a["total"]),
         _percent(a["confidence"])]], [60, 40, 40, 30])
    return bytes(pdf.output())
