"""Where a monthly report's facts come from: a verified ledger file, or a deployment.

A ledger file holds receipts only: its report has no budgets and no alerts (shown as such).
A deployment also gives the month's budgets per cost center (``receipts.budgets``) and its
alerts (``receipts.alerts.listing``, the listing ``GET /v1/alerts`` reads), each limited to
what a team token may see when the report is for one team. Invoices given, either source is
reconciled with them for the chargeback section (:mod:`receipts.reconcile.month`). Both add the
allocations section (:mod:`receipts.report.allocations`) when an allocation set is in force for
the month.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from receipts.reconcile.bar import Bar
from receipts.report import allocations
from receipts.report.build import Inputs, build
from receipts.report.facts import Facts, from_ledger, from_spend
from verifier.keys import PublicKey

if TYPE_CHECKING:
    from receipts.reconcile.month import Reconciled

COST_CENTER = "cost_center"


@dataclass(frozen=True)
class Invoices:
    """Invoice files to reconcile the month with (``--invoice``, CSV columns by ``--map``)."""

    paths: tuple[str, ...]
    mapping: Mapping[str, str]


def _reconciled(path: Path, keys: tuple[PublicKey, ...], month: str, require: tuple[str, ...],
                bar: Bar, invoices: Invoices | None, workers: int) -> Reconciled | None:
    if invoices is None or not invoices.paths:
        return None
    from receipts.reconcile.month import reconcile_month

    return reconcile_month(path, keys, invoices.paths, invoices.mapping, month, require, bar,
                           workers)


def ledger_report(path: Path, keys: tuple[PublicKey, ...], month: str,
                  require: tuple[str, ...], workers: int = 0, bar: Bar | None = None,
                  invoices: Invoices | None = None) -> dict[str, Any]:
    """The report of a ledger file, verified first against ``keys`` (and reconciled with
    ``invoices`` for the chargeback bar's variance)."""
    from receipts.reconcile.ledger import preamble

    bar = bar or Bar()
    facts = from_ledger(path, keys, month, require, workers, allocations.names_in(path))
    reporting, _ = preamble(path)
    reconciled = _reconciled(path, keys, month, require, bar, invoices, workers)
    body = build(facts, Inputs(month, require, reporting or "USD", bar=bar,
                               reconciled=reconciled))
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
                    team: str | None, source: str, bar: Bar | None = None,
                    reconciled: Reconciled | None = None) -> dict[str, Any]:
    """The report of a deployment's database, from the spend API (``team``: that team's;
    ``reconciled``: the month's chargeback against invoices, see :func:`exported_reconciled`)."""
    from receipts.alerts.listing import list_alert_views

    facts = from_spend(conn, month, require, team, source)
    alerts = list_alert_views(conn, limit=1000, team=team)
    body = build(facts, Inputs(month, require, currency, _budgets(conn, facts, team), alerts,
                               team, bar or Bar(), reconciled))
    body["allocations"] = allocations.from_database(conn, month, team)
    return body


def exported_reconciled(data_dir: Path | None, db_url: str | None, month: str,
                        require: tuple[str, ...], bar: Bar, invoices: Invoices | None,
                        workers: int = 0) -> Reconciled | None:
    """A deployment's month reconciled with invoices, as ``receipt reconcile --data`` does
    it: its ledger exported and verified with its own key."""
    if invoices is None or not invoices.paths:
        return None
    from receipts.reconcile.ledger import exported_ledger

    with exported_ledger(data_dir, db_url) as (path, keys):
        return _reconciled(path, keys, month, require, bar, invoices, workers)
