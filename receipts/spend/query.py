# ruff: noqa: S608 - SQL text holds fixed names, checked tag and zone names and integers, never input text
"""Spend over a time range from the aggregates: one SQL statement per query, never a receipt scan.

Each period's window is covered by whole UTC weeks and days and quarter hours at its edges,
added or subtracted (:mod:`receipts.spend.cover`); a day or week window in a time zone whose
ended days are made (:mod:`receipts.spend.local_days`) reads those instead. The statement
(:func:`statement`) sums the rows per window and group with their signs (exact, subtraction
included; a group whose receipts were all subtracted is dropped), and only then joins the
groups to their keys (a tag read from the group's tag set, a receipt field) and sums per
window, key, currency and category, so Python only sees the rows of the answer. The two halves
of each money sum are joined into exact integers here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from receipts.api.tag_keys import is_tag_key
from receipts.budgets.periods import Period, local_window, period_label
from receipts.errors import FieldProblem, Invalid
from receipts.spend import fold
from receipts.spend.buckets import QUARTER_HOUR_MS, TOTALS, joined
from receipts.spend.cover import Piece, signed_cover
from receipts.spend.local_days import made_range, zone_key
from receipts.spend.range_sql import range_join
from receipts.spend.tables import MAIN_CATEGORIES, SPEND_BUCKET, SpendGroupRow, money
from receipts.storage.tables import table

BUCKET = SPEND_BUCKET
GROUP = table(SpendGroupRow)
MAX_WINDOWS = 1000
"""Periods one query may span (a day-by-day year is 366)."""
PG_WORK_MEM = "64MB"
"""PostgreSQL memory for the query's sorts and hashes, for its transaction only (measured:
at 100,000 receipts a month by team sorted 25,000 rows on disk, 100 of its 250 ms)."""
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
        quarters = sa.select(BUCKET.c.start).where(BUCKET.c.span == QUARTER_HOUR_MS)
        # two subqueries: each reads one end of the index (both in one SELECT scanned it all)
        row = conn.execute(sa.select(quarters.order_by(BUCKET.c.start).limit(1).scalar_subquery(),
                                     quarters.order_by(BUCKET.c.start.desc()).limit(1)
                                     .scalar_subquery())).first()
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


def _check_edges(window: Window) -> None:
    if window.start % QUARTER_HOUR_MS or window.end % QUARTER_HOUR_MS:
        raise Invalid("the time zone's period boundaries do not fall on quarter hours",
                      [FieldProblem("tz", "an offset that is not a whole number of quarter "
                                          "hours at a period boundary")])


def _key_sql(name: str, sqlite: bool) -> str:
    """The SQL value of one ``by`` name for a group ``g``: a receipt field, or the tag read
    from the group's canonical tag set; an empty value is NULL (unattributed, as in the
    rollup). Tag names have one syntax (:mod:`receipts.api.tag_keys`), checked here too, so
    they are written into the statement as literals."""
    if name in FIELD_NAMES:
        return f"NULLIF(g.{name}, '')"
    if not is_tag_key(name):
        raise Invalid(f"by {name!r} is not a tag name", [FieldProblem("by", repr(name))])
    if sqlite:
        return f"""NULLIF(json_extract(g.tags_json, '$."{name}"'), '')"""
    return f"NULLIF(jsonb_extract_path_text(CAST(g.tags_json AS JSONB), '{name}'), '')"


def _summed(native: bool) -> list[str]:
    """The bucket columns a query sums, in the order :func:`sums` reads them back."""
    cash = "cost" if native else "reporting"
    columns = ["receipts", "priced" if native else "priced_reporting", "tokens",
               *money(cash)]
    for c in MAIN_CATEGORIES:
        columns += [f"{c}_receipts", f"{c}_tokens", *money(f"{c}_{cash}")]
    return columns


def _ranges(sqlite: bool) -> str:
    """The bucket rows of each part: its piece's range of one span."""
    return range_join("part JOIN piece ON piece.id = part.piece", "receipts_spend_bucket", "b",
                      "b.span = piece.span AND b.start >= piece.lo AND b.start < piece.hi",
                      sqlite)


LocalPart = tuple[int, int, int]
"""(window, from, to): the made local days whose midnight is in [from, to)."""


def _local_rows(sqlite: bool, zone: str) -> str:
    """The made local days of each local part (one index range per part)."""
    return range_join("local_part lp", "receipts_spend_local_day", "l",
                      f"l.zone = '{zone}' AND l.start >= lp.lo AND l.start < lp.hi", sqlite)


def _sources(pieces: Sequence[Piece], parts: Sequence[tuple[int, int, int]],
             local: Sequence[LocalPart], zone: str, columns: Sequence[str],
             sqlite: bool) -> tuple[list[str], str, str, str]:
    """The rows summed: (their ``WITH`` parts, the ``FROM`` source ``b``, its window and its
    sign expressions). Bucket ranges alone are joined as they are; with made local days,
    both are one ``UNION ALL`` of (window, sign, group, category, the columns summed)."""
    ctes = []
    if parts:
        ctes += [f"piece(id, span, lo, hi) AS (VALUES "
                 f"{', '.join(f'({i}, {s}, {lo}, {hi})' for i, (s, lo, hi) in enumerate(pieces))})",
                 f"part(piece, w, sign) AS (VALUES "
                 f"{', '.join(f'({p}, {w}, {sign})' for p, w, sign in parts)})"]
    if not local:
        return ctes, _ranges(sqlite), "part.w", "part.sign"
    ctes.append(f"local_part(w, lo, hi) AS (VALUES "
                f"{', '.join(f'({w}, {lo}, {hi})' for w, lo, hi in local)})")
    listed = ", ".join(f"{{0}}.{c} AS {c}" for c in ["group_id", "category", *columns])
    sources = ([f"SELECT part.w AS w, part.sign AS sign, {listed.format('b')} "
                f"FROM {_ranges(sqlite)}"] if parts else [])
    sources.append(f"SELECT lp.w AS w, 1 AS sign, {listed.format('l')} "
                   f"FROM {_local_rows(sqlite, zone)}")
    return ctes, f"({' UNION ALL '.join(sources)}) AS b", "b.w", "b.sign"


def _group_keys(q: SpendQuery, sqlite: bool) -> tuple[str, list[str]]:
    """The groups with the keys of ``q.by`` read from them (``gk``), and the key expressions
    over it, the currency last. Each group's tags are read once per query, not once per window
    and category row (measured at 1,000,000 receipts, a team's New York day by day over 30
    days: 194 against 173 ms on PostgreSQL, 175 against 156 ms on SQLite); every group, as
    limited to the groups summed the rows summed were read twice (154 against 188 ms)."""
    keys = [*(_key_sql(name, sqlite) for name in q.by),
            "g.currency" if q.currency == "native" else "g.fx_currency"]
    tags = [i for i, name in enumerate(q.by) if name not in FIELD_NAMES]
    table = ("gk AS MATERIALIZED (SELECT g.*, "
             + ", ".join([*(f"{keys[i]} AS k{i}" for i in tags), "0 AS unused"])
             + " FROM receipts_spend_group g)")
    return table, [f"g.k{i}" if i in tags else key for i, key in enumerate(keys)]


def statement(pieces: Sequence[Piece], parts: Sequence[tuple[int, int, int]], q: SpendQuery,
              sqlite: bool, local: Sequence[LocalPart] = (), zone: str = "") -> str:
    """The one statement of a query: ``pieces`` are the bucket ranges summed (their index is
    their id), ``parts`` each (piece, window, sign), ``local`` the windows read from the made
    days of ``zone`` (:mod:`receipts.spend.local_days`); rows per window, key, currency and
    category, the last two columns the retries and the distinct agents.

    First the bucket rows (and made days) are summed per window, group and category, their
    signs applied, and only what has receipts left is kept (a group whose receipts in a window
    were all subtracted is no row, and its agent is not counted); then those few rows (at most
    windows x groups x categories) are joined to their groups' keys (:func:`_group_keys`)
    and summed per key. SQLite sorts every row it groups: the bucket rows are sorted once, by
    integers (measured at 1,000,000 receipts, a New York day by day over 30 days: 450 against
    630 ms when the keys were read for every bucket row and the rows sorted per agent)."""
    columns = _summed(q.currency == "native")
    ctes, source, w, sign = _sources(pieces, parts, local, zone, columns, sqlite)
    group_keys, keys = _group_keys(q, sqlite)
    # a team's query sums only its groups' bucket rows (the filter below the sums)
    team = (f"JOIN receipts_spend_group tg ON tg.id = b.group_id "
            f"AND tg.team = {'?' if sqlite else '%s'}" if q.team is not None else "")
    # PostgreSQL's SUM of BIGINT is NUMERIC: a group's sums fit in BIGINT (each ``_lo`` sum
    # stays below 2^63), and the sums per key add BIGINTs, not NUMERICs
    cast = "{}" if sqlite else "CAST({} AS BIGINT)"
    inner = ", ".join(cast.format(f"SUM({sign} * b.{c})") + f" AS {c}" for c in columns)
    outer = ", ".join(f"SUM(s.{c})" for c in columns)
    row = ", ".join(["s.w", *keys, "s.category"])
    return f"""WITH {", ".join(ctes)},
per_group AS (
  SELECT {w} AS w, b.group_id AS group_id, b.category AS category, {inner}
  FROM {source}
    {team}
  GROUP BY {w}, b.group_id, b.category
  HAVING SUM({sign} * b.receipts) > 0),
{group_keys}
SELECT {row}, {outer}, SUM(CASE WHEN g.retry THEN s.receipts ELSE 0 END),
  COUNT(DISTINCT g.agent)
FROM per_group s JOIN gk g ON g.id = s.group_id
GROUP BY {row}"""


def _made_days(conn: Connection, q: SpendQuery) -> tuple[str, int, int] | None:
    """The zone and [first, until) of the made local days a day or week query may read."""
    key = zone_key(q.tz) if q.period in ("day", "week") else None
    made = made_range(conn, key) if key is not None else None
    return (key, *made) if key is not None and made is not None else None


def _whole_made_days(window: Window, q: SpendQuery, made: tuple[str, int, int]) -> bool:
    """Whether ``window`` is whole local days, all made (a clipped first or last period is
    not)."""
    _, first, until = made
    return (first <= window.start and window.end <= until
            and local_window("day", window.start, q.tz)[0] == window.start
            and local_window("day", window.end, q.tz)[0] == window.end)


def sums(conn: Connection, windows: Sequence[Window], q: SpendQuery,
         ) -> list[dict[RowKey, Row]]:
    """Each window's rows, in one statement (one snapshot of the aggregates)."""
    out: list[dict[RowKey, Row]] = [{} for _ in windows]
    pieces: dict[Piece, int] = {}
    parts: list[tuple[int, int, int]] = []
    local: list[LocalPart] = []
    made = _made_days(conn, q)
    for w, window in enumerate(windows):
        _check_edges(window)
        if made is not None and _whole_made_days(window, q, made):
            local.append((w, window.start, window.end))
            continue
        for piece, sign in signed_cover(window.start, window.end):
            parts.append((pieces.setdefault(piece, len(pieces)), w, sign))
    if not parts and not local:
        return out
    sqlite = conn.dialect.name == "sqlite"
    sql = statement(list(pieces), parts, q, sqlite, local, made[0] if made else "")
    if not sqlite:  # sort or hash the rows in memory: at the default 4 MB a month by team
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{PG_WORK_MEM}'")  # spilled to disk
        # and no JIT: for a large query it compiled code for 25 ms (of 200), and the sums
        conn.exec_driver_sql("SET LOCAL jit = off")  # ran no faster
    width = len(q.by) + 1
    # the driver's own placeholder (a tag name may hold ':', which sa.text would read as one)
    for found in conn.exec_driver_sql(sql, (q.team,) if q.team is not None else ()):
        # one row per window, key and category: the main row (''), or another category's
        key: RowKey = tuple(found[1:1 + width])
        category = found[1 + width]
        rows = out[found[0]]
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row()
        receipts, priced, tokens, hi, lo = found[width + 2:width + 7]
        if category != TOTALS:
            row.tokens[category] = int(tokens)
            row.cost_by_category[category] = joined(hi, lo)
            continue
        row.receipts, row.priced, row.cost = int(receipts), int(priced), joined(hi, lo)
        row.retries, row.agents = int(found[-2]), int(found[-1])
        at = width + 7
        for c in MAIN_CATEGORIES:
            listed, c_tokens, c_hi, c_lo = found[at:at + 4]
            at += 4
            if listed:  # (receipts that list it: a count of 0 tokens is still shown)
                row.tokens[c] = int(c_tokens)
                row.cost_by_category[c] = joined(c_hi, c_lo)
    return out


def run(conn: Connection, q: SpendQuery) -> tuple[list[Window], list[dict[RowKey, Row]],
                                                  dict[RowKey, Row]]:
    """Every window's rows, and the previous window's (for ``previous_cost``). Receipts not
    yet in the aggregates are folded first (:func:`receipts.spend.fold.catch_up`), so the
    answer counts every receipt committed before it was asked (on SQLite, ``conn``'s
    transaction must not have read yet: its snapshot would be older than the fold)."""
    fold.catch_up(conn.engine)
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
