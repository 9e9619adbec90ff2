# ruff: noqa: S608 - SQL text holds only fixed names and driver placeholders, never values
"""Writing a :class:`~receipts.spend.buckets.SpendDelta` in the append transaction.

Runs on the append's raw driver connection (:class:`receipts.storage.append_sql.AppendConnection`)
with fixed SQL text, like the rest of the append: new groups are inserted (``ON CONFLICT DO
NOTHING``: another chain's writer may have inserted the same group), bucket rows upserted with
``ON CONFLICT DO UPDATE`` adding the delta, the low half of each money sum carried into the high
half (SQL ``SET`` expressions all read the row as it was, so ``lo`` is summed once for both;
shifts and masks rather than ``/`` and ``%``, which psycopg would read as a placeholder).
Both dialects run the same statements; only the placeholder differs.
"""

from __future__ import annotations

from typing import Any

from receipts.spend.buckets import LO_BITS, LO_MOD, SLOTS, SpendDelta
from receipts.spend.tables import BUCKET_KEY, BUCKET_VALUES

LO_MASK = LO_MOD - 1
SLOT_STARTS = tuple(SLOTS.values())

GROUP_COLUMNS = ("id", "team", "agent", "provider", "model", "tags_json", "currency",
                 "fx_currency", "retry")


def _set(column: str) -> str:
    """The ``SET`` term of one value column: added to, and a ``_hi`` half takes the carry of
    its ``_lo`` half (the ``_lo`` term keeps the remainder)."""
    def both(lo: str) -> str:
        return f"(receipts_spend_bucket.{lo} + excluded.{lo})"
    added = f"{column} = receipts_spend_bucket.{column} + excluded.{column}"
    if column.endswith("_hi"):
        return f"{added} + ({both(column[:-3] + '_lo')} >> {LO_BITS})"
    if column.endswith("_lo"):
        return f"{column} = {both(column)} & {LO_MASK}"
    return added


def statements(placeholder: str) -> tuple[str, str]:
    """(insert groups, upsert buckets) SQL for a driver's placeholder (``?`` or ``%s``)."""
    p = placeholder
    groups = (f"INSERT INTO receipts_spend_group ({', '.join(GROUP_COLUMNS)}) VALUES "
              f"({', '.join([p] * len(GROUP_COLUMNS))}) ON CONFLICT (id) DO NOTHING")
    return groups, _upsert(f"VALUES ({', '.join([p] * len(BUCKET_COLUMNS))})")


BUCKET_COLUMNS = BUCKET_KEY + BUCKET_VALUES
PG_TYPES = ("int8", "int8", "int8", "varchar", "varchar", *["int8"] * len(BUCKET_VALUES))
PG_BUCKETS = f"""SELECT * FROM unnest({', '.join(f'%b::{t}[]' for t in PG_TYPES)})"""
"""PostgreSQL: every row of a delta in one statement, as one array per column (one round
trip and one statement however many rows, where ``executemany`` ran one per row), sent in
binary (``%b``): psycopg writes text arrays in Python, quoting each element, measured at
44 against 15 us per row of 80,000 rows."""


MINUTE_KEY = ("minute", "group_id", "chain")


PG_MINUTES = "SELECT * FROM unnest(%b::int8[], %b::int8[], %b::varchar[], %b::int8[], %b::int8[])"
"""PostgreSQL: a delta's minute rows in one statement, as its bucket rows."""


def minute_statement(placeholder: str, source: str | None = None) -> str:
    """Upsert (minute, group, chain) cost rows, adding to what is there: one row of
    placeholders, or ``source`` (:data:`PG_MINUTES`)."""
    both = "receipts_spend_minute.cost_lo + excluded.cost_lo"
    values = source or f"VALUES ({', '.join([placeholder] * 5)})"
    return (f"INSERT INTO receipts_spend_minute ({', '.join(MINUTE_KEY)}, cost_hi, cost_lo) "
            f"{values} ON CONFLICT ({', '.join(MINUTE_KEY)}) DO UPDATE SET "
            f"cost_hi = receipts_spend_minute.cost_hi + excluded.cost_hi + (({both}) >> "
            f"{LO_BITS}), cost_lo = ({both}) & {LO_MASK}")


def _upsert(source: str) -> str:
    return (f"INSERT INTO receipts_spend_bucket ({', '.join(BUCKET_COLUMNS)}) {source} "
            f"ON CONFLICT ({', '.join(BUCKET_KEY)}) "
            f"DO UPDATE SET {', '.join(_set(c) for c in BUCKET_VALUES)}")


def bucket_row(key: tuple[object, ...], v: list[int]) -> tuple[object, ...]:
    """A delta row as the statement binds it: its key, then the values of
    :data:`receipts.spend.buckets.Values` with each money value (cost and reporting, of the
    row and of each main category) split in two; written out rather than looped over, as it
    runs for every row of every append."""
    out = [*key, v[0], int(v[1]), int(v[2]), v[3], v[4] >> LO_BITS, v[4] & LO_MASK,
           v[5] >> LO_BITS, v[5] & LO_MASK]
    for at in SLOT_STARTS:
        cost, reporting = v[at + 2], v[at + 3]
        out += (v[at], v[at + 1], cost >> LO_BITS, cost & LO_MASK, reporting >> LO_BITS,
                reporting & LO_MASK)
    return tuple(out)


class SpendWriter:
    """Writes deltas on one append connection; remembers the groups known to be stored.

    A group id is remembered only once the transaction that inserted it (or found it) has
    committed: :meth:`committed` is called after the commit, and a rolled-back group is
    inserted again next time.
    """

    def __init__(self, driver: Any, is_sqlite: bool) -> None:
        self.driver = driver
        self.is_sqlite = is_sqlite
        self.sql_groups, self.sql_buckets = statements("?" if is_sqlite else "%s")
        self.pg_buckets = _upsert(PG_BUCKETS)
        self.sql_minutes = minute_statement("?" if is_sqlite else "%s")
        self.pg_minutes = minute_statement("%s", PG_MINUTES)
        self.known: set[int] = set()
        self._pending: set[int] = set()

    def write(self, delta: SpendDelta) -> None:
        """Insert the delta's new groups and add its rows into the buckets."""
        cur = self.driver.cursor()
        # in id order: two writers inserting the same new groups wait for each other in one order
        new = sorted((g for gid, g in delta.groups.items() if gid not in self.known),
                     key=lambda g: g.id)
        if new:
            cur.executemany(self.sql_groups, [
                (g.id, g.team, g.agent, g.provider, g.model, g.tags_json, g.currency,
                 g.fx_currency, g.retry) for g in new])
            self._pending.update(g.id for g in new)
        if delta.minutes:  # (one row per group and chain in the batch's minutes)
            minutes = [(minute, gid, chain, cost >> LO_BITS, cost & LO_MASK)
                       for (minute, gid, chain), cost in sorted(delta.minutes.items())]
            if self.is_sqlite:
                cur.executemany(self.sql_minutes, minutes)
            else:  # (one statement, where executemany ran one per row)
                cur.execute(self.pg_minutes, [list(c) for c in zip(*minutes, strict=True)])
        rows = [bucket_row(key, values) for key, values in delta.rows.items()]
        if not rows:
            return
        if self.is_sqlite:
            cur.executemany(self.sql_buckets, rows)
        else:
            cur.execute(self.pg_buckets, [list(column) for column in zip(*rows, strict=True)])

    def committed(self) -> None:
        """The transaction committed: its groups are stored."""
        self.known |= self._pending
        self._pending = set()

    def rolled_back(self) -> None:
        """The transaction was abandoned: its groups may not be stored."""
        self._pending = set()
