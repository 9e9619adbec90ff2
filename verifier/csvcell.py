"""CSV cells that a spreadsheet cannot run: the one rule both CSV writers share.

Finance opens these files in spreadsheets, and text in them comes from agents (request ids,
model names, tags). A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is read by spreadsheets as a formula (CSV injection: ``=HYPERLINK(...)`` in a tag value), so it
is written with a leading ``'``, as OWASP recommends. Amounts are never negative, so no number is
touched; the JSON outputs carry every value unchanged.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: Any) -> Any:
    """``cell``, with a leading ``'`` if it is text a spreadsheet would read as a formula."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell
