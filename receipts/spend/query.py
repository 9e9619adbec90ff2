"""Spend over a time range from the aggregates: one SQL sum per period, never a receipt scan.

A period's window is covered by whole UTC days in its middle and whole hours, then quarter
hours, at its edges (:func:`cover`), so any window whose ends fall on quarter hours is summed
exactly from at most five index ranges, whatever the time zone. The database joins the
buckets to their groups and sums them per window, requested key (a tag read from the group's
tag set, a receipt field), currency and category, so Python only sees the rows of the answer;
the two halves of each money sum are joined into exact integers here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from receipts.budgets.periods import Period, local_window, period_label
from receipts.errors import FieldProblem, Invalid
from receipts.spend.buckets import QUARTER_HOUR_MS, SPANS, TOTALS, joined, origin
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


RowKey = tuple[str | None, ...]
"""A row's ``by`` values (None: unattributed), then its currency."""


@dataclass
class Row:
    """One row's exact totals (money in 10^-12 units of the row's currency)."""

    receipts: int = 0
    priced: int = 0
    retries: int = 0
    cost: int = 0
    agents: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    cost_by_category: dict[str, int] = field(default_factory=dict)

    @property
    def amount(self) -> int | None:
        """The cost, or None when nothing in the row is priced (unknown, never 0)."""
        return self.cost if self.priced else None


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
    base = origin(span)
    lo, hi = base - (base - start) // span * span, end - (end - base) % span
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
        until = max(row[1] + QUARTER_HOUR_MS, since) if until is None else until
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


def _key_column(name: str, sqlite: bool) -> Any:
    """The SQL value of one ``by`` name for a group: a receipt field, or the tag read from the
    group's canonical tag set; an empty value is NULL (unattributed, as in the rollup). Tag
    names are checked by the route (``[a-z][a-z0-9_.:-]*``), so they are written as literals."""
    g = GROUP.c
    if name in FIELD_NAMES:
        return sa.func.nullif(g[name], "")
    if sqlite:
        value = sa.func.json_extract(g.tags_json, sa.literal_column(f"'$.\"{name}\"'"))
    else:
        value = sa.func.jsonb_extract_path_text(sa.cast(g.tags_json, JSONB),
                                                sa.literal_column(f"'{name}'"))
    return sa.func.nullif(value, "")


def sums(conn: Connection, windows: Sequence[Window], q: SpendQuery,
         ) -> list[dict[RowKey, Row]]:
    """Each window's rows, in one statement: the buckets of each covering range joined to
    the ranges and to their groups, summed per window, key, currency and category."""
    out: list[dict[RowKey, Row]] = [{} for _ in windows]
    for window in windows:
        _check_edges(window)
    piece = _pieces(windows)
    if piece is None:
        return out
    b, g = BUCKET.c, GROUP.c
    native = q.currency == "native"
    sqlite = conn.dialect.name == "sqlite"
    # each group's keys, read once per group (materialized: not once per joined row)
    keyed_select = sa.select(g.id, g.agent, g.retry, *(
        _key_column(name, sqlite).label(f"k{i}") for i, name in enumerate(q.by)),
        (g.currency if native else g.fx_currency).label("cur"))
    if q.team is not None:
        keyed_select = keyed_select.where(g.team == q.team)
    keyed = keyed_select.cte("keyed").prefix_with("MATERIALIZED")
    keys = [keyed.c[f"k{i}"] for i in range(len(q.by))] + [keyed.c.cur]
    money = (b.cost_hi, b.cost_lo) if native else (b.reporting_hi, b.reporting_lo)
    # one pass: each bucket row joined to its group's keys, summed per window, key, category
    query = sa.select(
        piece.c.w, *keys, b.category, sa.func.sum(b.receipts),
        sa.func.sum(b.priced if native else b.priced_reporting), sa.func.sum(b.tokens),
        sa.func.sum(money[0]), sa.func.sum(money[1]),
        sa.func.sum(sa.case((keyed.c.retry, b.receipts), else_=0)),
        sa.func.count(sa.distinct(sa.case((b.category == TOTALS, keyed.c.agent)))),
    ).select_from(
        piece.join(BUCKET, sa.and_(b.span == piece.c.span, b.start >= piece.c.lo,
                                   b.start < piece.c.hi))
        .join(keyed, keyed.c.id == b.group_id)
    ).group_by(*(sa.literal_column(str(i + 1)) for i in range(len(keys) + 2)))
    width = len(keys)
    for found in conn.execute(query):
        key: RowKey = tuple(found[1:1 + width])
        category, receipts, priced, tokens, hi, lo, retries, agents = found[1 + width:]
        rows = out[found[0]]
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row()
        if category == TOTALS:
            row.receipts, row.priced, row.retries = int(receipts), int(priced), int(retries)
            row.cost, row.agents = joined(hi, lo), int(agents)
        else:
            row.tokens[category] = int(tokens)
            row.cost_by_category[category] = joined(hi, lo)
    return out


def run(conn: Connection, q: SpendQuery) -> tuple[list[Window], list[dict[RowKey, Row]],
                                                  dict[RowKey, Row]]:
    """Every window's rows, and the previous window's (for ``previous_cost``)."""
    found = bounds(conn, q)
    if found is None:
        return [], [], {}
    since, until = found
    if q.period is not None:  # a default end snaps to its period's, so periods are whole
        since = local_window(q.period, since, q.tz)[0] if q.since is None else since
        until = local_window(q.period, until - 1, q.tz)[1] if q.until is None else until
    periods, before = windows(q, since, until)
    rows = sums(conn, [*periods, *([before] if before is not None else [])], q)
    previous = rows.pop() if before is not None else {}
    return periods, rows, previous
