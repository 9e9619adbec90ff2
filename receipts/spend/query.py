"""Spend over a time range from the aggregates: one SQL sum per period, never a receipt scan.

A period's window is covered by whole UTC days in its middle and whole hours, then quarter
hours, at its edges (:func:`cover`), so any window whose ends fall on quarter hours is summed
exactly from at most five index ranges, whatever the time zone. The database sums the buckets
per (group, category); the groups (a few rows per agent, model and tag set) are then folded
into the rows asked for (:mod:`receipts.spend.report`) in Python, in exact integers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from receipts.budgets.periods import Period, local_window, period_label
from receipts.errors import FieldProblem, Invalid
from receipts.spend.buckets import QUARTER_HOUR_MS, SPANS, TOTALS, joined
from receipts.spend.tables import SpendBucketRow, SpendGroupRow
from receipts.storage.tables import table

BUCKET = table(SpendBucketRow)
GROUP = table(SpendGroupRow)
MAX_WINDOWS = 1000
"""Periods one query may span (a day-by-day year is 366)."""
FIELD_NAMES = ("provider", "model", "agent")
"""``by`` names that read a receipt field; any other name is a tag."""

Currency = Literal["native", "reporting"]


@dataclass(frozen=True)
class SpendQuery:
    """What to sum: group names, period, time zone, [since, until) in epoch ms (quarter hours),
    the N largest groups only, which currency, and the team scope (None: every team)."""

    by: tuple[str, ...] = ()
    period: Period | None = None
    tz: tzinfo | None = None
    since: int | None = None
    until: int | None = None
    top: int | None = None
    currency: Currency = "reporting"
    team: str | None = None


@dataclass(frozen=True)
class Group:
    """A stored group with its tags decoded."""

    agent: str
    provider: str
    model: str
    tags: dict[str, str]
    currency: str
    fx_currency: str | None
    retry: bool


@dataclass
class Sums:
    """One (group, window) total: counts, costs, and per category tokens and costs."""

    receipts: int = 0
    priced: int = 0
    priced_reporting: int = 0
    cost: int = 0
    reporting: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    cost_by_category: dict[str, int] = field(default_factory=dict)
    reporting_by_category: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Window:
    """One period of the answer: [start, end) in epoch ms and its name (None: no period)."""

    start: int
    end: int
    label: str | None


def cover(start: int, end: int, spans: Sequence[int] = SPANS) -> list[tuple[int, int, int]]:
    """(span, from, to) ranges of bucket starts that cover [start, end) exactly: the widest
    aligned buckets in the middle, narrower ones at the edges."""
    if start >= end:
        return []
    span, rest = spans[0], spans[1:]
    if not rest:
        return [(span, start, end)]
    lo, hi = -(-start // span) * span, end // span * span
    if lo >= hi:
        return cover(start, end, rest)
    return [*cover(start, lo, rest), (span, lo, hi), *cover(hi, end, rest)]


def _aligned(value: int, name: str) -> int:
    if value % QUARTER_HOUR_MS:
        raise Invalid(f"{name} must fall on a quarter hour (spend is kept per 15 minutes)",
                      [FieldProblem(name, "not a multiple of 15 minutes since the epoch")])
    return value


def bounds(conn: Connection, q: SpendQuery) -> tuple[int, int] | None:
    """The query's [since, until): as given, else the first and last stored buckets (None:
    nothing stored)."""
    since = _aligned(q.since, "since") if q.since is not None else None
    until = _aligned(q.until, "until") if q.until is not None else None
    if since is None or until is None:
        row = conn.execute(sa.select(sa.func.min(BUCKET.c.start), sa.func.max(BUCKET.c.start))
                           .where(BUCKET.c.span == QUARTER_HOUR_MS)).first()
        if row is None or row[0] is None:
            return None
        since = row[0] if since is None else since
        until = row[1] + QUARTER_HOUR_MS if until is None else until
    if until < since:
        raise Invalid("until is before since", [FieldProblem("until", "before since")])
    return since, until


def windows(q: SpendQuery, since: int, until: int) -> tuple[list[Window], Window | None]:
    """The answer's periods, clipped to [since, until), and the whole period before the first
    (for ``previous_cost``; without a period, the window of the same length before)."""
    if q.period is None:
        before = Window(since - (until - since), since, None) if q.since is not None else None
        return [Window(since, until, None)], before
    out: list[Window] = []
    at = since
    while at < until:
        start, end = local_window(q.period, at, q.tz)
        out.append(Window(max(start, since), min(end, until), period_label(q.period, start, q.tz)))
        if len(out) > MAX_WINDOWS:
            raise Invalid(f"at most {MAX_WINDOWS} periods per query",
                          [FieldProblem("period", f"more than {MAX_WINDOWS} {q.period}s "
                                                  "between since and until")])
        at = end
    first = local_window(q.period, since, q.tz)[0]
    start, end = local_window(q.period, first - 1, q.tz)
    return out, Window(start, end, period_label(q.period, start, q.tz))


def groups(conn: Connection, team: str | None) -> dict[int, Group]:
    """The stored groups (of ``team`` only, when given)."""
    query = sa.select(GROUP)
    if team is not None:
        query = query.where(GROUP.c.team == team)
    return {r.id: Group(r.agent, r.provider, r.model, json.loads(r.tags_json), r.currency,
                        r.fx_currency, bool(r.retry)) for r in conn.execute(query)}


def _pieces(windows: Sequence[Window]) -> Any:
    """A derived table (span, lo, hi, w) of every window's covering ranges (w: its index)."""
    big = sa.BigInteger

    def value(v: int, name: str) -> Any:
        return sa.cast(sa.literal(v, big), big).label(name)

    selects = [sa.select(value(span, "span"), value(lo, "lo"), value(hi, "hi"), value(w, "w"))
               for w, window in enumerate(windows) for span, lo, hi in cover(window.start,
                                                                            window.end)]
    return sa.union_all(*selects).subquery("piece") if len(selects) > 1 else \
        selects[0].subquery("piece") if selects else None


def _check_edges(window: Window) -> None:
    if window.start % QUARTER_HOUR_MS or window.end % QUARTER_HOUR_MS:
        raise Invalid("the time zone's period boundaries do not fall on quarter hours",
                      [FieldProblem("tz", "an offset that is not a whole number of quarter "
                                          "hours at a period boundary")])


def sums(conn: Connection, windows: Sequence[Window], team: str | None,
         ) -> list[dict[int, Sums]]:
    """Each window's totals per group (groups without receipts in a window are absent), in
    one statement: the buckets of each covering range, joined to the ranges, summed per
    window, group and category."""
    out: list[dict[int, Sums]] = [{} for _ in windows]
    for window in windows:
        _check_edges(window)
    piece = _pieces(windows)
    if piece is None:
        return out
    c = BUCKET.c
    query = sa.select(piece.c.w, c.group_id, c.category, sa.func.sum(c.receipts),
                      sa.func.sum(c.priced), sa.func.sum(c.priced_reporting),
                      sa.func.sum(c.tokens), sa.func.sum(c.cost_hi), sa.func.sum(c.cost_lo),
                      sa.func.sum(c.reporting_hi), sa.func.sum(c.reporting_lo)
                      ).select_from(piece.join(BUCKET, sa.and_(
                          c.span == piece.c.span, c.start >= piece.c.lo, c.start < piece.c.hi))
                      ).group_by(piece.c.w, c.group_id, c.category)
    if team is not None:
        query = query.where(c.group_id.in_(sa.select(GROUP.c.id).where(GROUP.c.team == team)))
    for w, gid, category, receipts, priced, priced_rep, tokens, c_hi, c_lo, r_hi, r_lo in \
            conn.execute(query):
        per_group = out[w]
        s = per_group.get(gid)
        if s is None:
            s = per_group[gid] = Sums()
        cost, reporting = joined(c_hi, c_lo), joined(r_hi, r_lo)
        if category == TOTALS:
            s.receipts, s.priced, s.priced_reporting = int(receipts), int(priced), int(priced_rep)
            s.cost, s.reporting = cost, reporting
        else:
            s.tokens[category] = int(tokens)
            s.cost_by_category[category] = cost
            s.reporting_by_category[category] = reporting
    return out


def run(conn: Connection, q: SpendQuery) -> tuple[list[Window], list[dict[int, Sums]],
                                                  dict[int, Sums], dict[int, Group]]:
    """Every window's per-group sums, the previous window's, and the groups they name."""
    found = bounds(conn, q)
    if found is None:
        return [], [], {}, {}
    since, until = found
    if q.period is not None:  # a default end snaps to its period's, so periods are whole
        since = local_window(q.period, since, q.tz)[0] if q.since is None else since
        until = local_window(q.period, until - 1, q.tz)[1] if q.until is None else until
    periods, before = windows(q, since, until)
    found_sums = sums(conn, [*periods, *([before] if before is not None else [])], q.team)
    previous = found_sums.pop() if before is not None else {}
    return periods, found_sums, previous, groups(conn, q.team)
