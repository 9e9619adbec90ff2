"""The report's input: daily spend per team, project, cost center and model, from one source.

Two sources give the same facts. From a ledger file, the verifier checks every signature, chain
link, price and FX conversion and totals the receipts in the same pass with its own rollup
(:class:`verifier.rollup.RollupSpec`, as ``receipt reconcile`` reads a ledger): nothing is
counted that it did not verify. From a deployment, the spend API's one entry point
(:func:`receipts.spend.report.spend`) sums the aggregates kept with each append; its rows follow
the rollup's rules (spec §8), so both sources agree to the digit on the same receipts.

Money is integer 10^-12 units of the reporting currency (``cost_reporting``): a receipt
without an FX rate has no reporting cost and is counted as unpriced.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Connection

from receipts.errors import FieldProblem, Invalid, LedgerInvalid
from verifier.allocation import AllocationSet
from verifier.keys import PublicKey
from verifier.money import COST_SCALE, parse_amount
from verifier.rollup import RollupSpec
from verifier.verify import VerifyOptions, audit_ledger_file

GROUPS = ("team", "project", "cost_center", "provider", "model")
"""What every fact is split by (the required tags are added after them)."""


@dataclass(frozen=True)
class Fact:
    """One day's totals of one group. ``values`` follow :func:`grouping`; None: no such tag."""

    values: tuple[str | None, ...]
    day: str
    currency: str | None
    cost: int
    receipts: int
    unpriced: int


@dataclass(frozen=True)
class Facts:
    """Every fact from ``since_day`` to the end of the report's month, and where they came
    from."""

    by: tuple[str, ...]
    rows: tuple[Fact, ...]
    source: str
    receipts_verified: int | None = None
    allocation_sets: tuple[AllocationSet, ...] = ()
    """The ledger's allocation sets, as the verification authenticated them."""


def grouping(require: tuple[str, ...]) -> tuple[str, ...]:
    """The fact columns: :data:`GROUPS`, then the required tags not among them."""
    return tuple(dict.fromkeys((*GROUPS, *require)))


def month_bounds(month: str) -> tuple[dt.date, dt.date, dt.date]:
    """(first day read, first day of the month, first day of the next month): facts are read
    from January of the month's year, or from the previous month when it is January."""
    bad = Invalid(f"month {month!r} is not a month YYYY-MM from 1970-01 to 9998-12",
                  [FieldProblem("month", "not a month YYYY-MM (2026-11) from 1970-01 to "
                                         "9998-12")])
    if len(month) != 7 or month[4] != "-":
        raise bad
    try:
        first = dt.date.fromisoformat(month + "-01")
    except ValueError:
        raise bad from None
    if not 1970 <= first.year <= 9998:
        raise bad
    nxt = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    previous = dt.date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    return min(previous, dt.date(first.year, 1, 1)), first, nxt


def from_ledger(path: Path, keys: tuple[PublicKey, ...], month: str, require: tuple[str, ...],
                workers: int = 0, extra: tuple[str, ...] = ()) -> Facts:
    """Verify ``path`` against ``keys`` and total its receipts per group and UTC day (also
    grouped by the ``extra`` names, which the allocations section reads)."""
    if not path.is_file():
        raise LedgerInvalid(f"{path}: " + ("not a regular file" if path.exists()
                                           else "no such file"))
    by = grouping((*require, *extra))
    report = audit_ledger_file(path, VerifyOptions(
        trusted_keys=keys, rollup=RollupSpec(by, "day", "reporting"), workers=workers))
    if not report.valid or report.rollup is None:
        raise LedgerInvalid(f"{path} is INVALID, no report made: {report.failure}")
    start, _, end = month_bounds(month)
    low, high = start.isoformat(), end.isoformat()
    rows = tuple(Fact(row.values, row.period or "", row.currency, row.group.cost,
                      row.group.receipts, row.group.unpriced)
                 for row in report.rollup.rows() if low <= (row.period or "") < high)
    return Facts(by, rows, str(path), report.receipts, tuple(report.allocation_sets))


def _ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 1000


def from_spend(conn: Connection, month: str, require: tuple[str, ...], team: str | None,
               source: str) -> Facts:
    """The same facts from the spend API (``team``: one team's receipts only)."""
    from receipts.spend.query import SpendQuery
    from receipts.spend.report import spend

    by = grouping(require)
    start, _, end = month_bounds(month)
    body = spend(conn, SpendQuery(by=by, period="day", since=_ms(start), until=_ms(end),
                                  currency="reporting", team=team))
    rows = tuple(Fact(tuple(r[name] for name in by), r["period"], r["currency"],
                      0 if r["cost"] is None else parse_amount(r["cost"], COST_SCALE),
                      r["receipts"], r["unpriced"]) for r in body["rows"])
    return Facts(by, rows, source)
