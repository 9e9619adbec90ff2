"""The lists a page shows beside the spend: receipts under a drill path, one receipt, budgets
and alerts, each limited to the viewer's read scope exactly as the API limits it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import Request

from receipts.alerts.listing import list_alert_views
from receipts.alerts.messages import summary
from receipts.alerts.store import Alert
from receipts.api.dependencies import ReadScope, context
from receipts.budgets import counters, manage
from receipts.budgets.definition import parse_time
from receipts.budgets.raw import Raw
from receipts.clock import now_ms
from receipts.dashboard import charts
from receipts.dashboard.selection import MISSING, Selection
from receipts.errors import NotFound
from receipts.issuing.outcome import Outcome
from receipts.storage import queries as store
from verifier.money import COST_SCALE

DAY_MS = 86_400_000

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
    """The month's newest alerts the viewer may see: ``GET /v1/alerts``'s own listing, with
    the team a team token is limited to."""
    with context(request).runtime.db.read() as conn:
        found = list_alert_views(conn, limit=500, team=scope.team_filter(None))
    lines = []
    for view in found:
        alert = Alert(view["id"], view["kind"], view["scope"], view["dedup_key"],
                      view["payload"], 0)
        if not sel.month <= view["created_at"][:7] <= sel.month:
            continue
        lines.append(AlertLine(view["kind"], view["scope"], view["created_at"],
                               f"{summary(alert)} ({view['status']})"))
        if len(lines) == ALERTS_SHOWN:
            break
    return lines


@dataclass
class BudgetLine:
    """A budget as the overview shows it: its current period, burn-down and forecast."""

    name: str
    scope: str
    spent: str
    limit: str
    remaining: str
    forecast: str
    overrun: bool
    chart: str


def _cumulative(days: dict[int, int], start: int, end: int, now: int) -> list[Decimal]:
    """Spend so far at the end of each UTC day of [start, now], in currency units."""
    out, total, day = [], 0, start - start % DAY_MS
    while day < min(now, end):
        total += days.get(day, 0)
        out.append(Decimal(total).scaleb(-COST_SCALE))
        day += DAY_MS
    return out


def budgets(request: Request, scope: ReadScope, sel: Selection) -> list[BudgetLine]:
    """The budgets the viewer may see (a team token: those scoped to its team), each with its
    current period's status as ``GET /v1/budgets`` gives it and a burn-down chart."""
    runtime = context(request).runtime
    found = manage.list_budgets(runtime.db, runtime.facts.reporting_currency)
    lines = []
    now = now_ms()
    for b in found:
        if not scope.sees(b["scope"].get("team")):
            continue
        start = parse_time(b["period_start"], "period_start")
        end = parse_time(b["period_end"], "period_end")
        with runtime.db.read() as conn:
            days = counters.days(Raw.of(conn), b["id"], start, end)
        span = max((end - start + DAY_MS - 1) // DAY_MS, 1)
        projected = Decimal(b["forecast"]["projected"])
        chart = charts.burn_down(_cumulative(days, start, end, now), span, Decimal(b["limit"]),
                                 projected)
        lines.append(BudgetLine(
            b["name"], ", ".join(f"{k}={v}" for k, v in sorted(b["scope"].items())) or "all",
            b["spent"], b["limit"], b["remaining"], b["forecast"]["projected"],
            bool(b["forecast"]["overrun"]), chart))
    return lines
