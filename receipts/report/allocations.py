"""The monthly report's allocations section: the set in force applied to the month (spec §8.1).

Per group (the set's ``by``): its receipts' cost, each rule's line and its total; then each
rule's total and the month's invoice total, which the groups' totals add up to exactly. The
arithmetic is the verifier's own (:func:`verifier.allocate.allocate`), fed the same cells from
either source, so a report made from the ledger alone gives the numbers of the one made from
the database:

* From a ledger: the sets the verification authenticated, and the report's own verified facts
  (its one verification pass also groups by every name the sets read), summed per month.
* From a deployment: the stored sets and the month's spend (the spend API, reporting currency)
  grouped by every name the sets read, turned into the same rollup cells.

A team's report shows that team's group only, without the totals that would disclose other
teams' charges (and no section when the set's groups are not teams).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from receipts.errors import LedgerInvalid
from receipts.report.facts import Facts, month_bounds
from verifier.allocate import AllocatedRow, allocate, allocation_spec
from verifier.allocation import AllocationSet, Distribute, Fixed, in_force
from verifier.jsonview import iso_ms
from verifier.money import COST_SCALE, format_amount, parse_amount
from verifier.rollup import Group, Rollup

Section = dict[str, Any] | None


def _money(units: int | None) -> str | None:
    if units is None:
        return None
    text = format_amount(abs(units), COST_SCALE)
    return "-" + text if units < 0 else text


def _kind(rule: Any) -> str:
    return "fixed" if isinstance(rule, Fixed) else (
        "distribute" if isinstance(rule, Distribute) else "split")


def section(rows: Sequence[AllocatedRow], sets: Sequence[AllocationSet], month: str,
            team: str | None = None) -> Section:
    """The section of ``month`` from the allocated rows of every month (None: no set in
    force; for a ``team``, also None when the set's groups are not teams)."""
    aset = in_force(sets, month)
    if aset is None or (team is not None and aset.by != "team"):
        return None
    mine = [r for r in rows if r.period == month and (team is None or r.group == team)]
    everyone = team is None
    rule_totals = {r.name: sum(row.lines.get(r.name, 0) for row in rows
                               if row.period == month) for r in aset.rules}
    return {
        "set": {"id": aset.id.hex(), "name": aset.name, "effective_from": aset.effective_from,
                "created_at": iso_ms(aset.created_at)},
        "by": aset.by,
        "rules": [{"name": r.name, "kind": _kind(r), "category": r.category,
                   "credit": bool(getattr(r, "credit", False)),
                   "total": _money(rule_totals[r.name]) if everyone else None}
                  for r in aset.rules],
        "groups": [{"group": r.group, "receipts": r.receipts, "unpriced": r.unpriced,
                    "receipts_cost": _money(r.receipts_cost),
                    "lines": {name: _money(amount) for name, amount in r.lines.items()},
                    "total": _money(r.total)} for r in mine],
        "receipts_cost": _money(sum(r.receipts_cost for r in mine)),
        "invoice_total": _money(sum(r.total for r in mine)) if everyone else None,
    }


def names_in(path: Path) -> tuple[str, ...]:
    """Every name the ledger's allocation sets read, from its preamble as written: only what
    the report's one verification pass groups by; the sets the section applies are the ones
    that verification authenticates (:func:`from_facts`)."""
    from verifier import cose
    from verifier.encoding import decode_strict, split_sequence
    from verifier.errors import VerifierError
    from verifier.verify import read_chunks

    names: list[str] = []
    try:
        for _, item in split_sequence(read_chunks(path)):
            env = cose.parse(item)
            if env.content_type == cose.RECEIPT:
                break
            if env.content_type == cose.ALLOCATION_SET:
                aset = AllocationSet.from_payload(decode_strict(env.payload), env.payload)
                names += [n for n in aset.names if n not in names]
    except (VerifierError, OSError, ValueError, TypeError, KeyError):
        pass  # a hint only: the verification that follows says what is wrong
    return tuple(names)


def from_facts(facts: Facts, month: str) -> Section:
    """The section of a verified ledger: its authenticated sets applied to the month's
    verified receipts (the facts, grouped by every name the sets read, summed per month)."""
    sets = facts.allocation_sets
    if in_force(sets, month) is None:
        return None
    spec = allocation_spec(sets)
    missing = [n for n in spec.by if n not in facts.by]
    if missing:
        raise LedgerInvalid(f"{facts.source} changed while it was read (its allocation sets "
                            f"read {', '.join(missing)}): no report made")
    at = [facts.by.index(n) for n in spec.by]
    rollup = Rollup(spec)
    for fact in facts.rows:
        if fact.day[:7] != month:
            continue
        key = (*(fact.values[i] for i in at), month, fact.currency)
        group = rollup.groups.setdefault(key, Group())
        group.receipts += fact.receipts
        group.unpriced += fact.unpriced
        group.priced += fact.receipts - fact.unpriced
        group.cost += fact.cost
    return section(allocate(rollup, sets), sets, month)


def _ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 1000


def spend_rollup(conn: Connection, sets: Sequence[AllocationSet], month: str) -> Rollup:
    """The month's spend as the rollup :func:`verifier.allocate.allocate` reads: grouped by
    every name the sets read, in the reporting currency (from the spend API)."""
    from receipts.spend.query import SpendQuery
    from receipts.spend.report import spend

    _, first, nxt = month_bounds(month)
    spec = allocation_spec(sets)
    body = spend(conn, SpendQuery(by=spec.by, period="month", since=_ms(first),
                                  until=_ms(nxt), currency="reporting"))
    rollup = Rollup(spec)
    for row in body["rows"]:
        unpriced = row["unpriced"]
        cost = 0 if row["cost"] is None else parse_amount(row["cost"], COST_SCALE)
        key = (*(row[name] for name in spec.by), row["period"], row["currency"])
        rollup.groups[key] = Group(receipts=row["receipts"], priced=row["receipts"] - unpriced,
                                   unpriced=unpriced, cost=cost)
    return rollup


def from_database(conn: Connection, month: str, team: str | None) -> Section:
    """The section of a deployment: its stored sets applied to the month's spend."""
    from receipts.allocations.store import stored_sets

    sets = [s.aset for s in stored_sets(conn)]
    if in_force(sets, month) is None:
        return None
    return section(allocate(spend_rollup(conn, sets, month), sets), sets, month, team)


# -- rendering (hooked into receipts.report.render and .pdf) -------------------------------------

def csv_lines(report: dict[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    """``section,name,metric,value`` rows: each group's cost, lines and total, then the
    rules' totals and the invoice total."""
    a = report.get("allocations")
    if not a:
        return
    for g in a["groups"]:
        name = "(none)" if g["group"] is None else g["group"]
        yield "allocation", name, "receipts_cost", g["receipts_cost"]
        for rule in a["rules"]:
            if rule["name"] in g["lines"]:
                yield "allocation", name, f"line:{rule['name']}", g["lines"][rule["name"]]
        yield "allocation", name, "total", g["total"]
    for rule in a["rules"]:
        yield "allocation_rule", rule["name"], "total", rule["total"]
    yield "allocation", a["set"]["id"], "invoice_total", a["invoice_total"]


def pdf_section(pdf: Any, report: dict[str, Any], amount: Callable[[str | None], str],
                heading: Callable[[Any, str], None],
                table: Callable[[Any, list[str], list[list[str]], list[int]], None]) -> None:
    """The section in the PDF: each group, its receipts' cost, its lines and its total (one
    row each, so any number of rules fits the page), then the invoice total."""
    a = report.get("allocations")
    if not a:
        return
    heading(pdf, f"Allocations ({a['set']['name']}, from {a['set']['effective_from']})")
    rows: list[list[str]] = []
    for g in a["groups"]:
        rows.append([f"{a['by']} {g['group'] or '(none)'}", "receipts",
                     amount(g["receipts_cost"])])
        rows += [[f"   {r['name']}", r["category"], amount(g["lines"][r["name"]])]
                 for r in a["rules"] if r["name"] in g["lines"]]
        rows.append(["   total", "", amount(g["total"])])
    if a["invoice_total"] is not None:
        rows.append(["Invoice total", "", amount(a["invoice_total"])])
    table(pdf, [f"{a['by']} / rule", "Category", "Amount"], rows, [100, 40, 40])
