"""Where a monthly report's facts come from: a verified ledger file, or a deployment.

A ledger file holds receipts only: its report has no budgets and no alerts (shown as such).
A deployment also gives the month's budgets per cost center (``receipts.budgets``) and its
alerts (``receipts.alerts.listing``, the listing ``GET /v1/alerts`` reads), each limited to
what a team token may see when the report is for one team. Both add the allocations section
(:mod:`receipts.report.allocations`) when an allocation set is in force for the month.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from receipts.report import allocations
from receipts.report.build import Inputs, build
from receipts.report.facts import Facts, from_ledger, from_spend
from verifier.keys import PublicKey

COST_CENTER = "cost_center"


def ledger_report(path: Path, keys: tuple[PublicKey, ...], month: str,
                  require: tuple[str, ...], workers: int = 0) -> dict[str, Any]:
    """The report of a ledger file, verified first against ``keys``."""
    from receipts.reconcile.ledger import preamble

    facts = from_ledger(path, keys, month, require, workers, allocations.names_in(path))
    reporting, _ = preamble(path)
    body = build(facts, Inputs(month, require, reporting or "USD"))
    body["allocations"] = allocations.from_facts(facts, month)
    return body


def _budgets(conn: Connection, facts: Facts, team: str | None) -> dict[str, int]:
    """The limit of every calendar-month budget scoped to exactly one cost center (for a
    team, only the cost centers its own spend names)."""
    from receipts.budgets.catalog import load_all
    from receipts.budgets.raw import Raw

    seen = {f.values[facts.by.index(COST_CENTER)] for f in facts.rows}
    out: dict[str, int] = {}
    for budget in load_all(Raw.of(conn)):
        if budget.period != "month" or set(budget.scope) != {COST_CENTER}:
            continue
        center = budget.scope[COST_CENTER]
        if team is None or center in seen:
            out[center] = out.get(center, 0) + budget.limit
    return out


def database_report(conn: Connection, month: str, require: tuple[str, ...], currency: str,
                    team: str | None, source: str) -> dict[str, Any]:
    """The report of a deployment's database, from the spend API (``team``: that team's)."""
    from receipts.alerts.listing import list_alert_views

    facts = from_spend(conn, month, require, team, source)
    alerts = list_alert_views(conn, limit=1000, team=team)
    body = build(facts, Inputs(month, require, currency, _budgets(conn, facts, team), alerts,
                               team))
    body["allocations"] = allocations.from_database(conn, month, team)
    return body
