"""The numbers each page shows, asked of the spend API's query (``GET /v1/spend``'s own code),
with the viewer's read scope: a team token's pages are its team's spend, as its API calls are.

Nothing here sums money: every amount is one the spend query returned (a row's ``cost``, a
``total``), so the page and the API cannot disagree. Views are plain dataclasses the templates
read; amounts stay decimal strings until the ``money`` filter rounds them for people.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fastapi import Request

from receipts.api.dependencies import ReadScope, context
from receipts.dashboard import charts, listings
from receipts.dashboard.selection import DRILL, MISSING, STACK_CHOICES, Selection
from receipts.spend.query import SpendQuery
from receipts.spend.report import spend

__all__ = ["STACK_CHOICES", "drill", "overview", "receipt"]

DRIVERS = ("team", "project", "agent", "model", "employee")
"""The top-10 tables of the overview: the names people ask "who spent it" by."""
TOP = 10
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dashboard-spend")
"""Where a page's spend queries run on PostgreSQL (bounded: the database pool has 4 + 12
connections and every request of the worker shares these threads)."""


@dataclass
class DriverRow:
    """One line of a top-N or drill-down table."""

    label: str
    cost: str | None
    currency: str | None
    share: str
    receipts: int
    unpriced: int
    link: str | None


@dataclass
class Overview:
    """Everything the overview page shows."""

    month: str
    previous_month: str
    currency_mode: str
    reporting_currency: str
    stack: str
    totals: list[tuple[str | None, str | None]]
    previous_totals: list[tuple[str | None, str | None]]
    change: str | None
    receipts: int
    unpriced: int
    unattributed: dict[str, list[tuple[str | None, str | None]]]
    daily_chart: str
    provider_chart: str
    drivers: dict[str, list[DriverRow]]
    budgets: list[Any] = field(default_factory=list)
    alerts: list[Any] = field(default_factory=list)
    keep: dict[str, str] = field(default_factory=dict)


def _ask(request: Request, scope: ReadScope, sel: Selection, by: tuple[str, ...],
         period: str | None = "month", top: int | None = None, since: int | None = None,
         until: int | None = None) -> dict[str, Any]:
    """One spend query, limited to what ``scope`` may read.

    A page's window is a calendar month, so it is asked as one ``month`` period (the same
    rows, totals and shares as no period): the spend query then compares it with the calendar
    month before rather than with the 31 or so days before, which on SQLite also keeps the
    plan that reads the groups through an index. Measured at 100,000 receipts (bench/
    dashboard.py): October without a period took 2.4 s, as a month 0.08 s."""
    q = SpendQuery(by=by, period=period, since=sel.since if since is None else since,  # type: ignore[arg-type]
                   until=sel.until if until is None else until, top=top,
                   currency=sel.currency_mode,  # type: ignore[arg-type]
                   team=scope.team_filter(None))
    with context(request).runtime.db.read() as conn:
        return spend(conn, q)


def _ask_all(request: Request, scope: ReadScope, sel: Selection,
             asks: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A page's spend queries (independent of each other). On PostgreSQL they run at once,
    each on its own connection, so the page waits about for the slowest (its server
    processes work in parallel; measured at 10,000 receipts: overview 132 ms against 228 ms
    one after the other). On SQLite they run one after the other: there every query is CPU
    work in the same process, and at once they were slower (8 overview queries at 100,000
    receipts: 2.1-3.0 s against 1.7-2.4 s, bench/dashboard.py)."""
    if context(request).runtime.db.is_sqlite:
        return {name: _ask(request, scope, sel, **kwargs) for name, kwargs in asks.items()}
    futures = {name: _POOL.submit(_ask, request, scope, sel, **kwargs)
               for name, kwargs in asks.items()}
    return {name: future.result() for name, future in futures.items()}


def _percent(share: str | None) -> str:
    return "—" if share is None else f"{(Decimal(share) * 100).quantize(Decimal('0.1'))}%"


def _label(value: Any) -> str:
    return "(none)" if value in (None, MISSING) else str(value)


def _totals(body: dict[str, Any]) -> list[tuple[str | None, str | None]]:
    cost: dict[str, str | None] = body["total"]["cost"]
    return [(currency or None, amount) for currency, amount in cost.items()] or [(None, None)]


def _change(now: list[tuple[str | None, str | None]],
            before: list[tuple[str | None, str | None]]) -> str | None:
    """Month-over-month change in %, when both months have one amount in the same currency."""
    if len(now) != 1 or len(before) != 1 or now[0][0] != before[0][0]:
        return None
    current, previous = now[0][1], before[0][1]
    if current is None or previous is None or Decimal(previous) == 0:
        return None
    change = (Decimal(current) - Decimal(previous)) * 100 / Decimal(previous)
    return f"{change.quantize(Decimal('0.1')):+}%"


def _driver_rows(body: dict[str, Any], name: str, link_for: Any) -> list[DriverRow]:
    return [DriverRow(_label(r[name]), r["cost"], r["currency"], _percent(r["share"]),
                      r["receipts"], r["unpriced"], link_for(r[name]))
            for r in body["rows"]]


def _daily(request: Request, sel: Selection, body: dict[str, Any]) -> str:
    """The stacked chart of the ``(sel.stack,)`` by-day answer ``body``."""
    days = sel.days()
    index = {day: i for i, day in enumerate(days)}
    series: dict[str, list[Decimal | None]] = {}
    native = sel.currency_mode == "native"
    for r in body["rows"]:
        if r["cost"] is None or r["period"] not in index:
            continue  # unpriced (or, in reporting mode, without an FX rate): no amount to draw
        name = _label(r[sel.stack]) + (f" {r['currency']}" if native else "")
        series.setdefault(name, [None] * len(days))[index[r["period"]]] = Decimal(r["cost"])
    unit = sel.currency_mode if sel.currency_mode == "native" else (
        context(request).runtime.facts.reporting_currency)
    stacked = charts.fold_series([charts.Series(k, v) for k, v in series.items()])
    return charts.stacked_bars(days, stacked, unit)


def overview(request: Request, scope: ReadScope, sel: Selection) -> Overview:
    """The overview of ``sel.month`` for ``scope``: one spend query per section, run at once.

    The month's total, receipt counts and unattributed spend are the ``total`` and
    ``unattributed`` of the team and project top-10 queries (a spend answer's total and
    unattributed cover every row, not only the top ones), so no query is asked twice."""
    previous_first = dt.date.fromisoformat(sel.previous_month + "-01")
    asks: dict[str, dict[str, Any]] = {name: {"by": (name,), "top": TOP} for name in DRIVERS}
    asks["before"] = {"by": (), "since": int(dt.datetime(
        previous_first.year, previous_first.month, 1, tzinfo=dt.UTC).timestamp() * 1000),
        "until": sel.since}
    asks["providers"] = {"by": ("provider",)}
    asks["daily"] = {"by": (sel.stack,), "period": "day"}
    answers = _ask_all(request, scope, sel, asks)
    drivers = {name: _driver_rows(answers[name], name, _driver_link(sel, name))
               for name in DRIVERS}
    shares = {_label(r["provider"]): Decimal(r["share"]) for r in answers["providers"]["rows"]
              if r["share"] is not None}
    month = answers["team"]
    totals, previous = _totals(month), _totals(answers["before"])
    unattributed = {tag: [(c or None, v) for c, v in per.items()]
                    for tag in ("team", "project")
                    for per in (answers[tag]["unattributed"][tag],) if per}
    return Overview(
        month=sel.month, previous_month=sel.previous_month, currency_mode=sel.currency_mode,
        reporting_currency=context(request).runtime.facts.reporting_currency, stack=sel.stack,
        totals=totals, previous_totals=previous, change=_change(totals, previous),
        receipts=month["total"]["receipts"], unpriced=month["total"]["unpriced"],
        unattributed=unattributed, daily_chart=_daily(request, sel, answers["daily"]),
        provider_chart=charts.share_bar(shares), drivers=drivers,
        budgets=listings.budgets(request, scope, sel),
        alerts=listings.alerts(request, scope, sel))


def _driver_link(sel: Selection, name: str) -> Any:
    """Drill-down links from the overview's team table (the first level of the path)."""
    if name != DRILL[0]:
        return lambda _value: None
    return lambda value: "/dashboard/drill?" + Selection(
        sel.month, sel.currency_mode, sel.stack, ()).query(
        **{name: MISSING if value is None else str(value)})


@dataclass
class Crumb:
    """One step back up the drill path."""

    label: str
    link: str


@dataclass
class Drill:
    """One level of the drill-down: the groups below, or at the last level the receipts."""

    month: str
    currency_mode: str
    reporting_currency: str
    stack: str
    heading: str
    base_query: str
    crumbs: list[Crumb]
    total: list[tuple[str | None, str | None]]
    next_dim: str | None
    rows: list[DriverRow] | None
    receipts: list[listings.ReceiptLine]
    keep: dict[str, str]


def drill(request: Request, scope: ReadScope, sel: Selection) -> Drill:
    """The spend under ``sel.path``, grouped by the next name of the path."""
    path = sel.path
    scope.team_filter(dict(path).get("team") or None)  # a team token: 403 for another team
    level = len(path)
    by = DRILL[:min(level + 1, len(DRILL))]
    asks: dict[str, dict[str, Any]] = {"below": {"by": by}}
    if 0 < level < len(DRILL):
        asks["here"] = {"by": DRILL[:level]}  # at the last level, "below" groups by the path
    answers = _ask_all(request, scope, sel, asks)
    body = answers["below"]
    matching = _under(body["rows"], path)
    if level:
        here = _under(answers.get("here", body)["rows"], path)
        total = [(r["currency"], r["cost"]) for r in here] or [(None, None)]
    else:
        total = _totals(body)
    crumbs = [Crumb(f"{n} {_label(v)}", "/dashboard/drill?" + Selection(
        sel.month, sel.currency_mode, sel.stack, path[:i + 1]).query())
        for i, (n, v) in enumerate(path)]
    rows: list[DriverRow] | None = None
    lines: list[listings.ReceiptLine] = []
    next_dim = DRILL[level] if level < len(DRILL) else None
    if next_dim is not None:
        rows = _driver_rows({"rows": matching}, next_dim, lambda value: "/dashboard/drill?" + (
            sel.query(**{next_dim: MISSING if value is None else str(value)})))
    else:
        lines = listings.receipts_under(request, scope, sel)
    return Drill(
        month=sel.month, currency_mode=sel.currency_mode,
        reporting_currency=context(request).runtime.facts.reporting_currency, stack=sel.stack,
        heading=" › ".join(c.label for c in crumbs) or "all",
        base_query=Selection(sel.month, sel.currency_mode, sel.stack, ()).query(),
        crumbs=crumbs, total=total, next_dim=next_dim, rows=rows, receipts=lines,
        keep=sel.keep())


def _under(rows: list[dict[str, Any]], path: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    """The rows whose group values are those of the drill path (a missing tag matches "")."""
    return [r for r in rows if all((r[n] if r[n] is not None else MISSING) == v for n, v in path)]


def receipt(request: Request, scope: ReadScope, receipt_id: str) -> listings.ReceiptPage:
    """One receipt, if the viewer may see it (404 otherwise, as the API answers)."""
    return listings.receipt_page(request, scope, receipt_id)
