"""A statement as a PDF, with fpdf2 (the ``pdf`` extra), drawn the way the report's is.

The tables are the HTML statement's: totals, by model, the lines by day and model; then the
receipts of each line by id, in small type. Core Helvetica covers Latin-1 (other characters
print as ``?``; the JSON keeps them); the creation date is fixed so the same statement gives
the same bytes.
"""

from __future__ import annotations

from typing import Any

from receipts.errors import ExtraMissing
from receipts.report.build import rounded
from receipts.report.pdf import FIXED_DATE, heading, latin1, table

MAX_TOKEN_COLUMNS = 4
"""Usage categories with their own PDF column; further ones are summed in ``other``."""


def _tokens(tokens: dict[str, int], shown: list[str]) -> list[str]:
    cells = [str(tokens.get(c, 0)) for c in shown]
    rest = sum(v for k, v in tokens.items() if k not in shown)
    return [*cells, str(rest)]


def render_pdf(statement: dict[str, Any], categories: list[str]) -> bytes:
    """The PDF's bytes."""
    try:
        from fpdf import FPDF
    except ImportError:
        raise ExtraMissing("PDF statements need the pdf extra: pip install 'receipts[pdf]'"
                           ) from None
    shown = categories[:MAX_TOKEN_COLUMNS]
    token_head = [*shown, "other"]
    token_widths = [16] * len(token_head)
    pdf = FPDF()
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_compression(False)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, latin1(f"Usage statement {statement['month']} - {statement['tenant']}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    currency = statement["currency"] or "each price book's currency"
    pdf.multi_cell(0, 4, latin1(
        f"Receipts tagged {statement['tenant_tag']}={statement['tenant']}, issued in "
        f"{statement['month']} (UTC). Amounts in {currency}, rounded to the minor unit. "
        f"Source: {statement['source']}"), new_x="LMARGIN", new_y="NEXT")
    heading(pdf, "Totals")
    table(pdf, ["Currency", "Receipts", "Unpriced", *token_head, "Cost"], [
        [t["currency"], str(t["receipts"]), str(t["unpriced"]),
         *_tokens(t["tokens"], shown), rounded(t["cost"], t["currency"])]
        for t in statement["totals"]], [24, 20, 20, *token_widths, 30])
    heading(pdf, "By model")
    table(pdf, ["Provider / model", "Receipts", *token_head, "Cost"], [
        [f"{m['provider']}/{m['model']}", str(m["receipts"]), *_tokens(m["tokens"], shown),
         f"{rounded(m['cost'], m['currency'])} {m['currency']}"]
        for m in statement["models"]], [60, 18, *token_widths, 32])
    heading(pdf, "Usage by day and model")
    table(pdf, ["Line  day  provider/model", "Receipts", *token_head, "Cost"], [
        [f"{line['line']}  {line['day']}  {line['provider']}/{line['model']}",
         str(line["receipts"]), *_tokens(line["tokens"], shown),
         f"{rounded(line['cost'], line['currency'])} {line['currency']}"]
        for line in statement["lines"]], [60, 18, *token_widths, 32])
    heading(pdf, "Receipts by line")
    pdf.set_font("Helvetica", "", 6)
    for line in statement["lines"]:
        for row in _packed(pdf, f"{line['line']}:", line["receipt_ids"]):
            pdf.cell(0, 3, row, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _packed(pdf: Any, label: str, ids: list[str]) -> list[str]:
    """The ids in rows as wide as the page, packed in one pass (fpdf2's ``multi_cell`` on
    one long text takes seconds for a few thousand ids); an id wider than the page is cut
    there in the PDF alone."""
    room = pdf.epw
    rows, row = [], latin1(label)
    width = pdf.get_string_width(row)
    for rid in ids:
        text = " " + latin1(rid)
        w = pdf.get_string_width(text)
        if width + w > room:
            rows.append(row)
            row, width = "   " + text, pdf.get_string_width("   " + text)
        else:
            row, width = row + text, width + w
    rows.append(row)
    return rows
