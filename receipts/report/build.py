"""The monthly report's numbers, computed once from :class:`~receipts.report.facts.Facts`.

Every renderer (JSON, CSV, HTML, PDF) prints this one structure, so the formats cannot
disagree, and the same facts from a ledger or a deployment give the same report. Money stays
integer 10^-12 units here; :func:`money` writes it as an exact decimal string.

Rules the issue left to us, written once here:

* *Drivers* are the (team, project, model) groups of the month, largest spend first.
* *Month-over-month* compares with the whole previous calendar month (UTC).
* *Forecast*: the month's daily run rate (its spend divided by the days from the 1st to the
  last day that has a receipt, so a month still running is not diluted by days to come) times
  the days of the next month, rounded half to even to 10^-12 units.
* *Unallocated*: spend whose receipts carry no ``team`` tag.
* *Attribution confidence*: the share of the month's spend whose receipts carry every required
  tag (default ``team``).
* *Budget vs actual*: budgets whose scope is exactly one ``cost_center`` and whose period is the
  calendar month; none for a bare ledger, which holds no budget.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from receipts.errors import LedgerInvalid
from receipts.report.facts import Fact, Facts, month_bounds
from verifier.money import COST_SCALE, format_amount

SHARE_PLACES = Decimal("0.000001")
TOP_DRIVERS = 3


def money(units: int | None) -> str | None:
    """Exact decimal string of 10^-12 units (None stays None)."""
    return None if units is None else format_amount(units, COST_SCALE)


def ratio(part: int, whole: int) -> str | None:
    """``part / whole`` to 6 places, half to even (None when ``whole`` is 0)."""
    if not whole:
        return None
    return str((Decimal(part) / Decimal(whole)).quantize(SHARE_PLACES, ROUND_HALF_EVEN))


@dataclass
class Totals:
    """Exact totals of a set of facts."""

    cost: int = 0
    receipts: int = 0
    unpriced: int = 0

    def add(self, fact: Fact) -> None:
        """Count one fact in."""
        self.cost += fact.cost
        self.receipts += fact.receipts
        self.unpriced += fact.unpriced

    def json(self) -> dict[str, Any]:
        """The totals as the report prints them."""
        return {"cost": money(self.cost), "receipts": self.receipts, "unpriced": self.unpriced}


@dataclass
class Inputs:
    """What the report is asked: the month, required tags, currency; budgets (limit per cost
    center, None when the source has none), the month's alerts (None: not available) and the
    one team it is for (None: every team)."""

    month: str
    require: tuple[str, ...]
    currency: str
    budgets: Mapping[str, int] | None = None
    alerts: Sequence[Mapping[str, Any]] | None = None
    team: str | None = None


def _sum(facts: Iterable[Fact]) -> Totals:
    out = Totals()
    for f in facts:
        out.add(f)
    return out


def _grouped(facts: Iterable[Fact], at: Sequence[int]) -> dict[tuple[str | None, ...], Totals]:
    out: dict[tuple[str | None, ...], Totals] = defaultdict(Totals)
    for f in facts:
        out[tuple(f.values[i] for i in at)].add(f)
    return out


def _order(items: Mapping[tuple[str | None, ...], Totals]) -> list[tuple[tuple[str | None, ...],
                                                                       Totals]]:
    return sorted(items.items(), key=lambda kv: (
        -kv[1].cost, tuple((v is not None, v or "") for v in kv[0])))


def _currency(facts: Facts, default: str) -> str:
    found = sorted({f.currency for f in facts.rows if f.currency is not None})
    if len(found) > 1:
        raise LedgerInvalid(f"receipts report in {', '.join(found)}: one reporting currency "
                            "per report")
    return found[0] if found else default


def forecast(month_cost: int, days: Sequence[str], month: str) -> dict[str, Any]:
    """The next month projected from the month's daily run rate (see the module's rules)."""
    _, first, nxt = month_bounds(month)
    following = calendar.monthrange(nxt.year, nxt.month)[1]
    if not days:
        return {"basis_days": 0, "daily_rate": None, "next_month": nxt.strftime("%Y-%m"),
                "days_in_next_month": following, "projected": None}
    basis = (dt.date.fromisoformat(max(days)) - first).days + 1
    rate = Decimal(month_cost) / basis
    projected = int((rate * following).quantize(Decimal(1), ROUND_HALF_EVEN))
    return {"basis_days": basis, "daily_rate": money(int(rate.quantize(Decimal(1),
                                                                       ROUND_HALF_EVEN))),
            "next_month": nxt.strftime("%Y-%m"), "days_in_next_month": following,
            "projected": money(projected)}


def build(facts: Facts, inputs: Inputs) -> dict[str, Any]:
    """The report as one JSON-ready structure (keys and lists in a fixed order)."""
    _, first, nxt = month_bounds(inputs.month)
    lo, hi = first.isoformat(), nxt.isoformat()
    previous = month_bounds(inputs.month)[0] if first.month == 1 else \
        dt.date(first.year, first.month - 1, 1)
    year_start = dt.date(first.year, 1, 1).isoformat()
    col = {name: i for i, name in enumerate(facts.by)}
    month = [f for f in facts.rows if lo <= f.day < hi]
    before = [f for f in facts.rows if previous.isoformat() <= f.day < lo]
    ytd = [f for f in facts.rows if year_start <= f.day < hi]
    total, prior = _sum(month), _sum(before)
    change = total.cost - prior.cost

    previous_of = _grouped(before, [col["team"], col["project"], col["model"]])
    drivers = [{"team": k[0], "project": k[1], "model": k[2], **t.json(),
                "share": ratio(t.cost, total.cost),
                "previous_cost": money(previous_of[k].cost if k in previous_of else 0)}
               for k, t in _order(_grouped(month, [col["team"], col["project"],
                                                   col["model"]]))[:TOP_DRIVERS]]

    centers = _grouped(month, [col["cost_center"]])
    centers_ytd = _grouped(ytd, [col["cost_center"]])
    names = set(centers) | set(centers_ytd) | {(c,) for c in inputs.budgets or {}}
    cost_centers = []
    for key in sorted(names, key=lambda k: (-(centers[k].cost if k in centers else 0),
                                            k[0] is not None, k[0] or "")):
        actual = centers[key] if key in centers else Totals()
        limit = None if inputs.budgets is None or key[0] is None else inputs.budgets.get(key[0])
        cost_centers.append({
            "cost_center": key[0], **actual.json(),
            "budget": money(limit), "remaining": None if limit is None else money(
                limit - actual.cost),
            "used": None if limit is None else ratio(actual.cost, limit),
            "year_to_date": money(centers_ytd[key].cost if key in centers_ytd else 0)})

    teams = []
    for (team,), t in _order(_grouped(month, [col["team"]])):
        mine = [f for f in month if f.values[col["team"]] == team]
        projects = []
        for (project,), p in _order(_grouped(mine, [col["project"]])):
            models = _grouped([f for f in mine if f.values[col["project"]] == project],
                              [col["provider"], col["model"]])
            projects.append({"project": project, **p.json(), "models": [
                {"provider": k[0], "model": k[1], **m.json()} for k, m in _order(models)]})
        teams.append({"team": team, **t.json(), "share": ratio(t.cost, total.cost),
                      "year_to_date": money(_sum(f for f in ytd
                                                 if f.values[col["team"]] == team).cost),
                      "projects": projects})

    unallocated = [f for f in month if f.values[col["team"]] is None]
    attributed = _sum(f for f in month if all(f.values[col[t]] is not None
                                              for t in inputs.require))
    days = sorted({f.day for f in month})
    daily = [{"day": d, "teams": {k[0] or "": money(v.cost) for k, v in _order(
        _grouped([f for f in month if f.day == d], [col["team"]]))}} for d in days]
    alerts = None if inputs.alerts is None else [
        {k: a.get(k) for k in ("id", "kind", "scope", "created_at", "status")}
        for a in inputs.alerts if lo <= str(a.get("created_at", ""))[:10] < hi]
    return {
        "report": "monthly", "month": inputs.month, "currency": _currency(facts,
                                                                          inputs.currency),
        "source": facts.source, "team": inputs.team, "required_tags": list(inputs.require),
        "receipts_verified": facts.receipts_verified,
        "summary": {**total.json(), "previous_month": previous.strftime("%Y-%m"),
                    "previous_cost": money(prior.cost), "change": money(change),
                    "change_ratio": ratio(change, prior.cost), "top_drivers": drivers},
        "cost_centers": cost_centers, "teams": teams,
        "anomalies": alerts,
        "forecast": forecast(total.cost, days, inputs.month),
        "unallocated": {**_sum(unallocated).json(), "share": ratio(_sum(unallocated).cost,
                                                                   total.cost),
                        "projects": [{"project": k[0], **v.json()} for k, v in _order(
                            _grouped(unallocated, [col["project"]]))]},
        "attribution": {"required_tags": list(inputs.require), "attributed": money(
            attributed.cost), "total": money(total.cost),
            "confidence": ratio(attributed.cost, total.cost)},
        "daily": daily,
    }


def rounded(amount: str | None, currency: str) -> str:
    """An exact amount string as a person reads it (minor unit, half to even); ``-`` for
    none."""
    from verifier.minor_units import display_amount
    from verifier.money import parse_amount

    if amount is None:
        return "-"
    return display_amount(parse_amount(amount, COST_SCALE), currency)

