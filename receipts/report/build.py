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
* *Chargeback*: each team showback or chargeback-ready against the bar, and why not
  (:mod:`receipts.report.chargeback`).

Each section is one function of a :class:`Scope` listed in :data:`SECTIONS`.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from receipts.errors import LedgerInvalid
from receipts.reconcile.bar import Bar
from receipts.report.facts import Fact, Facts, month_bounds
from verifier.money import COST_SCALE, format_amount

if TYPE_CHECKING:
    from receipts.reconcile.month import Reconciled

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
    one team it is for (None: every team); the chargeback bar and, when invoices were
    reconciled, the month's chargeback per team."""

    month: str
    require: tuple[str, ...]
    currency: str
    budgets: Mapping[str, int] | None = None
    alerts: Sequence[Mapping[str, Any]] | None = None
    team: str | None = None
    bar: Bar = field(default_factory=Bar)
    reconciled: Reconciled | None = None


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


@dataclass(frozen=True)
class Scope:
    """What every section reads: the facts of the month, of the previous month and of the
    year to date, the facts' columns by name, and the month's total."""

    facts: Facts
    inputs: Inputs
    col: Mapping[str, int]
    month: Sequence[Fact]
    before: Sequence[Fact]
    ytd: Sequence[Fact]
    lo: str
    hi: str
    previous: dt.date
    total: Totals

    def of(self, name: str, f: Fact) -> str | None:
        """The value of column ``name`` in ``f``."""
        return f.values[self.col[name]]


def scope(facts: Facts, inputs: Inputs) -> Scope:
    """The month's facts split the way the sections read them."""
    _, first, nxt = month_bounds(inputs.month)
    lo, hi = first.isoformat(), nxt.isoformat()
    previous = month_bounds(inputs.month)[0] if first.month == 1 else \
        dt.date(first.year, first.month - 1, 1)
    year_start = dt.date(first.year, 1, 1).isoformat()
    month = [f for f in facts.rows if lo <= f.day < hi]
    return Scope(facts, inputs, {name: i for i, name in enumerate(facts.by)}, month,
                 [f for f in facts.rows if previous.isoformat() <= f.day < lo],
                 [f for f in facts.rows if year_start <= f.day < hi], lo, hi, previous,
                 _sum(month))


def _summary(s: Scope) -> dict[str, Any]:
    col, prior = s.col, _sum(s.before)
    change = s.total.cost - prior.cost
    at = [col["team"], col["project"], col["model"]]
    previous_of = _grouped(s.before, at)
    drivers = [{"team": k[0], "project": k[1], "model": k[2], **t.json(),
                "share": ratio(t.cost, s.total.cost),
                "previous_cost": money(previous_of[k].cost if k in previous_of else 0)}
               for k, t in _order(_grouped(s.month, at))[:TOP_DRIVERS]]
    return {**s.total.json(), "previous_month": s.previous.strftime("%Y-%m"),
            "previous_cost": money(prior.cost), "change": money(change),
            "change_ratio": ratio(change, prior.cost), "top_drivers": drivers}


def _cost_centers(s: Scope) -> list[dict[str, Any]]:
    budgets = s.inputs.budgets
    centers = _grouped(s.month, [s.col["cost_center"]])
    centers_ytd = _grouped(s.ytd, [s.col["cost_center"]])
    names = set(centers) | set(centers_ytd) | {(c,) for c in budgets or {}}
    out = []
    for key in sorted(names, key=lambda k: (-(centers[k].cost if k in centers else 0),
                                            k[0] is not None, k[0] or "")):
        actual = centers[key] if key in centers else Totals()
        limit = None if budgets is None or key[0] is None else budgets.get(key[0])
        out.append({
            "cost_center": key[0], **actual.json(),
            "budget": money(limit), "remaining": None if limit is None else money(
                limit - actual.cost),
            "used": None if limit is None else ratio(actual.cost, limit),
            "year_to_date": money(centers_ytd[key].cost if key in centers_ytd else 0)})
    return out


def _teams(s: Scope) -> list[dict[str, Any]]:
    out = []
    for (team,), t in _order(_grouped(s.month, [s.col["team"]])):
        mine = [f for f in s.month if s.of("team", f) == team]
        projects = []
        for (project,), p in _order(_grouped(mine, [s.col["project"]])):
            models = _grouped([f for f in mine if s.of("project", f) == project],
                              [s.col["provider"], s.col["model"]])
            projects.append({"project": project, **p.json(), "models": [
                {"provider": k[0], "model": k[1], **m.json()} for k, m in _order(models)]})
        out.append({"team": team, **t.json(), "share": ratio(t.cost, s.total.cost),
                    "year_to_date": money(_sum(f for f in s.ytd
                                               if s.of("team", f) == team).cost),
                    "projects": projects})
    return out


def _anomalies(s: Scope) -> list[dict[str, Any]] | None:
    if s.inputs.alerts is None:
        return None
    return [{k: a.get(k) for k in ("id", "kind", "scope", "created_at", "status")}
            for a in s.inputs.alerts if s.lo <= str(a.get("created_at", ""))[:10] < s.hi]


def _forecast(s: Scope) -> dict[str, Any]:
    return forecast(s.total.cost, sorted({f.day for f in s.month}), s.inputs.month)


def _unallocated(s: Scope) -> dict[str, Any]:
    unallocated = [f for f in s.month if s.of("team", f) is None]
    totals = _sum(unallocated)
    return {**totals.json(), "share": ratio(totals.cost, s.total.cost),
            "projects": [{"project": k[0], **v.json()} for k, v in _order(
                _grouped(unallocated, [s.col["project"]]))]}


def _attributed(s: Scope) -> Totals:
    return _sum(f for f in s.month if all(s.of(t, f) is not None for t in s.inputs.require))


def _attribution(s: Scope) -> dict[str, Any]:
    return {"required_tags": list(s.inputs.require), "attributed": money(
        _attributed(s).cost), "total": money(s.total.cost),
        "confidence": ratio(_attributed(s).cost, s.total.cost)}


def _chargeback(s: Scope) -> dict[str, Any]:
    from receipts.report.chargeback import section

    i = s.inputs
    return section(s.month, s.col["team"], [s.col[t] for t in i.require], i.require, i.bar,
                   i.reconciled)


def _daily(s: Scope) -> list[dict[str, Any]]:
    return [{"day": d, "teams": {k[0] or "": money(v.cost) for k, v in _order(
        _grouped([f for f in s.month if f.day == d], [s.col["team"]]))}}
        for d in sorted({f.day for f in s.month})]


SECTIONS: tuple[tuple[str, Callable[[Scope], Any]], ...] = (
    ("summary", _summary), ("cost_centers", _cost_centers), ("teams", _teams),
    ("anomalies", _anomalies), ("forecast", _forecast), ("unallocated", _unallocated),
    ("attribution", _attribution), ("chargeback", _chargeback), ("daily", _daily))
"""The report's sections in order: a new section is one function of :class:`Scope` and one
entry here (then its lines in each renderer)."""


def build(facts: Facts, inputs: Inputs) -> dict[str, Any]:
    """The report as one JSON-ready structure (keys and lists in a fixed order)."""
    s = scope(facts, inputs)
    return {
        "report": "monthly", "month": inputs.month, "currency": _currency(facts,
                                                                          inputs.currency),
        "source": facts.source, "team": inputs.team, "required_tags": list(inputs.require),
        "receipts_verified": facts.receipts_verified,
        **{name: make(s) for name, make in SECTIONS},
    }


def rounded(amount: str | None, currency: str) -> str:
    """An exact amount string as a person reads it (minor unit, half to even); ``-`` for
    none."""
    from verifier.minor_units import display_amount
    from verifier.money import parse_amount

    if amount is None:
        return "-"
    return display_amount(parse_amount(amount, COST_SCALE), currency)

