"""A statement printed: JSON and the two CSVs exact, HTML and PDF rounded for people.

* ``json``: the structure of :func:`receipts.statements.build.build`, sorted keys, one
  trailing newline, the receipt ids of each line in ``receipt_ids``.
* ``csv``: the usage lines a billing system imports, one row per line, columns fixed
  (:data:`LINE_COLUMNS`) whatever the month holds: the five usage categories of the format
  each in its own column, any other category in ``tokens_other`` as a JSON object; money as
  exact decimals with 12 places (empty: no priced receipt).
* ``receipts``: a CSV of the receipts behind the lines, one row per receipt id with the
  ``line`` number it is counted in (:data:`RECEIPT_COLUMNS`).
* ``html`` (Jinja2, the report's approach: one self-contained page, no script) and ``pdf``
  (fpdf2, the ``pdf`` extra): amounts rounded to the currency's minor unit, half to even.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from receipts.report.build import rounded
from verifier.csvcell import spreadsheet_safe

CATEGORIES = ("input", "cache_read", "cache_write", "cache_write_1h", "output")
"""The usage categories with a column of their own (spec §6.1)."""
LINE_COLUMNS = ("tenant", "month", "line", "day", "provider", "model", "currency", "receipts",
                "unpriced", *(f"tokens_{c}" for c in CATEGORIES), "tokens_other", "cost")
RECEIPT_COLUMNS = ("tenant", "month", "line", "day", "provider", "model", "currency",
                   "receipt_id")


def to_json(statement: dict[str, Any]) -> bytes:
    """Deterministic JSON (sorted keys, fixed indentation, one trailing newline)."""
    return (json.dumps(statement, sort_keys=True, indent=1, ensure_ascii=False)
            + "\n").encode()


def _csv(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else spreadsheet_safe(str(row[c]))
                         if isinstance(row[c], str) else row[c] for c in columns])
    return out.getvalue().encode()


def _other(tokens: dict[str, int]) -> str:
    rest = {k: v for k, v in sorted(tokens.items()) if k not in CATEGORIES}
    return json.dumps(rest, separators=(",", ":")) if rest else ""


def to_csv(statement: dict[str, Any]) -> bytes:
    """The usage lines, one row each, columns :data:`LINE_COLUMNS`."""
    head = {"tenant": statement["tenant"], "month": statement["month"]}
    return _csv(LINE_COLUMNS, ({
        **head, **{k: line[k] for k in ("line", "day", "provider", "model", "currency",
                                        "receipts", "unpriced", "cost")},
        **{f"tokens_{c}": line["tokens"].get(c, 0) for c in CATEGORIES},
        "tokens_other": _other(line["tokens"])} for line in statement["lines"]))


def to_receipts_csv(statement: dict[str, Any]) -> bytes:
    """The receipts behind the lines, one row per receipt, columns :data:`RECEIPT_COLUMNS`."""
    head = {"tenant": statement["tenant"], "month": statement["month"]}
    return _csv(RECEIPT_COLUMNS, (
        {**head, **{k: line[k] for k in ("line", "day", "provider", "model", "currency")},
         "receipt_id": rid} for line in statement["lines"] for rid in line["receipt_ids"]))


def categories(statement: dict[str, Any]) -> list[str]:
    """The usage categories the statement holds: the format's in their order, then others."""
    seen = {c for line in statement["lines"] for c in line["tokens"]}
    return [c for c in CATEGORIES if c in seen] + sorted(seen - set(CATEGORIES))


def to_html(statement: dict[str, Any]) -> bytes:
    """The statement as a self-contained HTML page (no script, no external asset)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("receipts.statements", "templates"),
                      autoescape=select_autoescape(("html",)), keep_trailing_newline=True)
    env.filters["amount"] = rounded
    return env.get_template("statement.html").render(
        s=statement, categories=categories(statement)).encode()


def to_pdf(statement: dict[str, Any]) -> bytes:
    """The statement as a PDF (needs the ``pdf`` extra)."""
    from receipts.statements.pdf import render_pdf

    return render_pdf(statement, categories(statement))


RENDERERS = {"json": to_json, "csv": to_csv, "receipts": to_receipts_csv, "html": to_html,
             "pdf": to_pdf}
FORMATS = tuple(RENDERERS)
MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "receipts": "text/csv",
               "html": "text/html; charset=utf-8", "pdf": "application/pdf"}
EXTENSIONS = {"json": "json", "csv": "csv", "receipts": "receipts.csv", "html": "html",
              "pdf": "pdf"}
