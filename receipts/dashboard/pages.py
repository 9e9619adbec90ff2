"""Rendering: the Jinja environment, the amount filter and the security headers of every page.

Templates autoescape everything (tag values come from agents); the only unescaped values are
the SVG charts, which :mod:`receipts.dashboard.charts` builds with every text escaped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

from verifier.minor_units import display_amount
from verifier.money import COST_SCALE, parse_amount

ROOT = "/dashboard"
STATIC = f"{ROOT}/static"
NO_COST = "—"
"""What a group without any priced receipt shows: its spend is unknown, which is not 0."""

SECURITY_HEADERS = {
    # Everything the page needs comes from the service itself: no script at all, styles and
    # images from this origin (the charts are inline SVG).
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make Origin "null"
    "Cache-Control": "no-store",
}


def money(amount: str | Decimal | None, currency: str | None) -> str:
    """An exact amount (decimal string, 12 decimals) as a person reads it: rounded half to even
    to its currency's minor unit, as ``receipt rollup --format table`` shows it."""
    if amount is None:
        return NO_COST
    exact = parse_amount(f"{Decimal(amount):.12f}", COST_SCALE)
    code = currency or ""
    shown = display_amount(exact, code) if code else f"{Decimal(amount):f}"
    return f"{shown} {code}".strip()


_ENV = Environment(loader=PackageLoader("receipts.dashboard", "templates"),
                   autoescape=select_autoescape(("html",)), auto_reload=False)
_ENV.filters["money"] = money


def render(template: str, status: int = 200, headers: dict[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    """A page with the common context (root, static URL) and the security headers."""
    html = _ENV.get_template(template).render(root=ROOT, static_url=STATIC, **context)
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
