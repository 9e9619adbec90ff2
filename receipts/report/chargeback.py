"""The report's chargeback section: per team, showback or chargeback-ready, and why not.

A team is in *showback* (its spend is shown to it) until it meets the chargeback bar
(:class:`receipts.reconcile.bar.Bar`, the rule ``receipt reconcile`` applies), then it is
*chargeback-ready* (its spend can be billed to it). The criteria, with their figures:

* *attributable*: the share of the team's spend in the month (reporting currency, the
  report's facts) carrying every required tag; a team without priced spend fails it.
* *variance*: only when invoices are reconciled (``--invoice``): the team's gross |variance|
  against the invoice charged to it in proportion to its receipts, in the invoices'
  currency (:func:`receipts.reconcile.month.reconcile_month`). A team none of whose spend the
  invoices bill has nothing to compare: the criterion is not checked (``met`` null) and
  does not hold it back.

Receipts without a ``team`` tag belong to no team: they are the report's unallocated bucket,
not a row here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from receipts.reconcile.bar import Bar, percent
from receipts.reconcile.month import Reconciled
from receipts.report.facts import Fact
from verifier.money import COST_SCALE, format_amount

READY, SHOWBACK = "chargeback_ready", "showback"


def _money(units: int) -> str:
    return format_amount(units, COST_SCALE)


def _pct(part: int, whole: int) -> str | None:
    value = percent(part, whole)
    return None if value is None else str(value)


def _attributable(bar: Bar, cost: int, attributable: int, require: Sequence[str]
                  ) -> tuple[dict[str, Any], str | None]:
    met = bar.attributable_ok(attributable, cost)
    share = _pct(attributable, cost)
    why = None
    if not met:
        why = ("attributable: no priced spend this month" if share is None else
               f"attributable: {share}% of its spend carries {', '.join(require)}; the bar "
               f"is at least {bar.attributable_min}%")
    return {"met": met, "percent": share, "attributable": _money(attributable),
            "cost": _money(cost)}, why


def _variance(bar: Bar, reconciled: Reconciled, team: str
              ) -> tuple[dict[str, Any], str | None]:
    row = reconciled.teams.get(team)
    if row is None:
        return {"met": None, "percent": None, "abs_variance": None, "charged": None,
                "currency": reconciled.currency,
                "note": "none of its spend is on the invoices given"}, None
    met = bar.variance_ok(row.abs_variance, row.charged, row.ledger)
    share = _pct(row.abs_variance, row.charged)
    why = None
    if not met:
        why = (f"variance: nothing of the invoices charged to it against "
               f"{_money(row.ledger)} {reconciled.currency} of receipts" if share is None else
               f"variance: |variance| {share}% of what the invoices charge it; the bar is at "
               f"most {bar.variance_max}%")
    return {"met": met, "percent": share, "abs_variance": _money(row.abs_variance),
            "charged": _money(row.charged), "currency": reconciled.currency, "note": None}, why


def section(month: Sequence[Fact], team_at: int, required_at: Sequence[int],
            require: Sequence[str], bar: Bar, reconciled: Reconciled | None
            ) -> dict[str, Any]:
    """The chargeback section of the month's facts (``team_at``, ``required_at``: the
    facts' columns of the team and of each required tag)."""
    cost: dict[str, int] = {}
    attributable: dict[str, int] = {}
    for f in month:
        team = f.values[team_at]
        if team is None:
            continue
        cost[team] = cost.get(team, 0) + f.cost
        if all(f.values[i] is not None for i in required_at):
            attributable[team] = attributable.get(team, 0) + f.cost
        else:
            attributable.setdefault(team, 0)
    teams = []
    for team in sorted(cost, key=lambda t: (-cost[t], t)):
        share, why_share = _attributable(bar, cost[team], attributable[team], require)
        variance, why_variance = (None, None) if reconciled is None else _variance(
            bar, reconciled, team)
        why_not = [w for w in (why_share, why_variance) if w is not None]
        teams.append({"team": team, "status": SHOWBACK if why_not else READY,
                      "attributable": share, "variance": variance, "why_not": why_not})
    return {"attributable_min_percent": str(bar.attributable_min),
            "variance_max_percent": str(bar.variance_max),
            "invoices": None if reconciled is None else list(reconciled.invoices),
            "invoice_currency": None if reconciled is None else reconciled.currency,
            "ready": sum(t["status"] == READY for t in teams), "teams": teams}
