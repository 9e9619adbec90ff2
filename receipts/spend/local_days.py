# ruff: noqa: S608 - SQL text holds fixed names and integers, never input text
"""Spend per ended local day of the time zones asked for: a day in New York without its edges.

A UTC day is one bucket per group; a New York day is a UTC day with two five-hour edges of
quarter hours added and subtracted (:func:`receipts.spend.cover.signed_cover`), and at a
million receipts those edges are most of what a day-by-day query reads: each quarter hour
holds about one row per receipt, a day about one per group (measured at 1,000,000 receipts,
New York day by day over 30 days: 209,000 bucket rows read, 181,000 of them edges).

An ended day never changes, because ``issued_at`` is taken under the chain's lock from the
clock (:meth:`receipts.issuing.service.ReceiptService.append`): once every append that held a
chain lock has ended (:func:`barrier`), every receipt issued before that instant is committed,
and any later one is issued after it. So a day that ended :data:`GRACE_MS` before a barrier
(the margin for replicas' clocks, which may disagree by that much) is summed once per group
and category from the buckets, by the same signed cover a query uses, and kept in
``receipts_spend_local_day``: its numbers are the buckets' to the unit. A query in that zone
reads such a day, or a week of them, as one row per group (:mod:`receipts.spend.query`).

Which zones: every one a day or week query names (:func:`remember_zone`, on its first use in a
process), kept in ``receipts_spend_zone`` with the range of days done. The days are made by
:class:`receipts.spend.local_runner.LocalDayRunner`, once across every worker under a lease:
the days that ended since, then history, newest first, a bounded number per pass. Until a
day is made, queries read it from the buckets (slower, the same numbers). Rebuilding the
aggregates (:mod:`receipts.spend.rebuild`) forgets every made day.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import tzinfo
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from receipts.budgets.periods import local_window
from receipts.clock import now_ms
from receipts.spend import fold
from receipts.spend.buckets import QUARTER_HOUR_MS, joined, split
from receipts.spend.cover import Piece, signed_cover
from receipts.spend.range_sql import range_join
from receipts.spend.tables import BUCKET_VALUES, SPEND_BUCKET, SPEND_LOCAL_DAY, SpendZoneRow
from receipts.storage import queries as store
from receipts.storage.database import Database
from receipts.storage.tables import table

ZONE = table(SpendZoneRow)
GRACE_MS = 300_000
"""How long after a local day ends it is made: the most two replicas' clocks may disagree."""
DAYS_PER_PASS = 31
ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")
"""An IANA zone key (what :class:`zoneinfo.ZoneInfo` accepts from the API), at most 64 long."""
WITHOUT_OFFSET = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Universal",
                            "Etc/Zulu", "Zulu", "Etc/UCT", "UCT"})
"""Zones whose days are UTC days: their queries read day buckets already."""
MONEY = tuple(c[:-3] for c in BUCKET_VALUES if c.endswith("_hi"))


def zone_key(tz: tzinfo | None) -> str | None:
    """The key of a zone whose days can be kept (an IANA zone with an offset), else None."""
    key = getattr(tz, "key", None)
    if not isinstance(key, str) or key in WITHOUT_OFFSET or len(key) > 64:
        return None
    return key if ZONE_NAME.fullmatch(key) else None


_remembered: set[tuple[str, str]] = set()
"""(database URL, zone) pairs known to be asked for."""
_lock = threading.Lock()


def remember_zone(db: Database, tz: tzinfo | None) -> None:
    """Ask for ``tz``'s days to be kept (once per zone and process: a row, if missing)."""
    key = zone_key(tz)
    if key is None or (db.url, key) in _remembered:
        return
    with _lock:
        if (db.url, key) in _remembered:
            return
        with db.write() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(dialect.insert(ZONE).values(zone=key).on_conflict_do_nothing())
        _remembered.add((db.url, key))


def _stored_range(conn: Connection, key: str) -> tuple[int | None, int | None] | None:
    row = conn.execute(sa.select(ZONE.c.first, ZONE.c.until).where(ZONE.c.zone == key)).first()
    return None if row is None else (row.first, row.until)


def made_range(conn: Connection, key: str) -> tuple[int, int] | None:
    """The [first, until) of ``key``'s made days (None: none)."""
    stored = _stored_range(conn, key)
    if stored is None or stored[0] is None or stored[1] is None or stored[0] >= stored[1]:
        return None
    return int(stored[0]), int(stored[1])


def zones(conn: Connection) -> list[str]:
    """Every zone asked for."""
    return list(conn.execute(sa.select(ZONE.c.zone).order_by(ZONE.c.zone)).scalars())


def forget_all(conn: Connection) -> None:
    """Drop every made day (the buckets were rebuilt); the zones stay asked for."""
    conn.execute(sa.delete(SPEND_LOCAL_DAY))
    conn.execute(ZONE.update().values(first=None, until=None))


def barrier(db: Database) -> int:
    """An instant before which every receipt is committed and in the buckets: taken with every
    chain head locked (so every append under way has ended) and the chain heads let go at
    once, then every receipt committed is folded (:mod:`receipts.spend.fold`)."""
    with db.write() as conn:
        store.lock_all_chains(conn)
        at = now_ms()
    fold.catch_up(db.engine)
    return at


def _day_sql(pieces: Sequence[tuple[Piece, int]], sqlite_dialect: bool) -> str:
    """One day's sums per group and category over its signed pieces, every value column."""
    rows = ", ".join(f"({span}, {lo}, {hi}, {sign})" for (span, lo, hi), sign in pieces)
    source = range_join("part", "receipts_spend_bucket", "b",
                        "b.span = part.span AND b.start >= part.lo AND b.start < part.hi",
                        sqlite_dialect)
    sums = ", ".join(f"SUM(part.sign * b.{c})" for c in BUCKET_VALUES)
    return (f"WITH part(span, lo, hi, sign) AS (VALUES {rows}) "
            f"SELECT b.group_id, b.category, {sums} FROM {source} "
            "GROUP BY b.group_id, b.category HAVING SUM(part.sign * b.receipts) > 0")


def day_rows(conn: Connection, key: str, start: int, end: int) -> list[dict[str, object]]:
    """The rows of the local day [start, end) of zone ``key``, each money sum in canonical
    halves again (a signed sum of halves may have any ``lo``)."""
    found = conn.exec_driver_sql(_day_sql(signed_cover(start, end), conn.dialect.name == "sqlite"))
    out = []
    for row in found:
        values = dict(zip(BUCKET_VALUES, (int(v) for v in row[2:]), strict=True))
        for name in MONEY:
            values[f"{name}_hi"], values[f"{name}_lo"] = split(
                joined(values[f"{name}_hi"], values[f"{name}_lo"]))
        out.append({"zone": key, "start": start, "group_id": int(row[0]),
                    "category": row[1], **values})
    return out


def _first_bucket(conn: Connection) -> int | None:
    """The first quarter hour stored (a week bucket starts up to 6 days before its receipts)."""
    return conn.execute(sa.select(sa.func.min(SPEND_BUCKET.c.start))
                        .where(SPEND_BUCKET.c.span == QUARTER_HOUR_MS)).scalar()


def _todo(key: str, ended: int, done: tuple[int, int] | None,
          first_bucket: int) -> list[tuple[int, int]]:
    """The days to make next, in order: those that ended since the made range (oldest
    first), then history before it (newest first); at most :data:`DAYS_PER_PASS`."""
    zone = ZoneInfo(key)
    first, until = done if done is not None else (ended, ended)
    days: list[tuple[int, int]] = []
    at = until
    while at < ended and len(days) < DAYS_PER_PASS:
        day = local_window("day", at, zone)
        days.append(day)
        at = day[1]
    at = first
    while at > first_bucket and len(days) < DAYS_PER_PASS:
        day = local_window("day", at - 1, zone)
        days.append(day)
        at = day[0]
    return days


def make_days(db: Database, key: str) -> int:
    """Make the next days of zone ``key`` (:func:`_todo`); how many were made. Each day is
    summed in a read transaction and stored, with the range, in a short write transaction
    that first checks the range is still where it was (another holder may have moved it)."""
    ended = local_window("day", barrier(db) - GRACE_MS, ZoneInfo(key))[0]
    with db.read() as conn:
        done, first_bucket = made_range(conn, key), _first_bucket(conn)
    if first_bucket is None:
        return 0
    made = 0
    for start, end in _todo(key, ended, done, first_bucket):
        with db.read() as conn:
            rows = day_rows(conn, key, start, end)
        with db.write() as conn:
            if _stored_range(conn, key) is None:  # (not asked for, or no longer)
                break
            now = made_range(conn, key)
            first, until = now if now is not None else (ended, ended)
            if start == until:
                until = end
            elif end == first:
                first = start
            else:  # (the range moved under us: this pass stops, the next one goes on)
                break
            conn.execute(sa.delete(SPEND_LOCAL_DAY).where(  # (none: a day outside the range
                SPEND_LOCAL_DAY.c.zone == key, SPEND_LOCAL_DAY.c.start == start))  # is unread)
            if rows:
                conn.execute(sa.insert(SPEND_LOCAL_DAY), rows)
            conn.execute(ZONE.update().where(ZONE.c.zone == key)
                         .values(first=first, until=until))
        made += 1
    return made
