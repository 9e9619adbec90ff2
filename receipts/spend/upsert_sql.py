# ruff: noqa: S608 - SQL text holds only fixed names and driver placeholders, never values
"""Writing a :class:`~receipts.spend.buckets.SpendDelta` in a fold transaction.

Runs on a raw driver connection (:mod:`receipts.spend.fold`, on an
:class:`receipts.storage.append_sql.AppendConnection`) with fixed SQL text, as the append
does: new groups are inserted (``ON CONFLICT DO NOTHING``: another chain's fold or a rebuild
may have inserted the same group), bucket rows upserted with
``ON CONFLICT DO UPDATE`` adding the delta, the low half of each money sum carried into the high
half (SQL ``SET`` expressions all read the row as it was, so ``lo`` is summed once for both;
shifts and masks rather than ``/`` and ``%``, which psycopg would read as a placeholder).
SQLite runs one ``executemany`` per table; PostgreSQL the same upserts as one statement with
every row in arrays (:func:`pg_statement`).
"""

from __future__ import annotations

from collections.abc import Sequence
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


GROUPS_FROM = (f"INSERT INTO receipts_spend_group ({', '.join(GROUP_COLUMNS)}) {{}} "
               "ON CONFLICT (id) DO NOTHING")


def statements(placeholder: str) -> tuple[str, str]:
    """(insert groups, upsert buckets) SQL for a driver's placeholder (``?`` or ``%s``)."""
    p = placeholder
    groups = GROUPS_FROM.format(f"VALUES ({', '.join([p] * len(GROUP_COLUMNS))})")
    return groups, _upsert(f"VALUES ({', '.join([p] * len(BUCKET_COLUMNS))})")


BUCKET_COLUMNS = BUCKET_KEY + BUCKET_VALUES
PG_TYPES = ("int8", "int8", "int8", "varchar", "varchar", *["int8"] * len(BUCKET_VALUES))
PG_GROUP_TYPES = ("int8", *["varchar"] * 7, "bool")
PG_MINUTE_TYPES = ("int8", "int8", "varchar", "int8", "int8")


def _unnest(types: tuple[str, ...], p: str) -> str:
    return f"SELECT * FROM unnest({', '.join(f'{p}::{t}[]' for t in types)})"


MINUTE_KEY = ("minute", "group_id", "chain")


def pg_statement(groups: Sequence[tuple[object, ...]], minutes: Sequence[tuple[object, ...]],
                 rows: Sequence[tuple[object, ...]]) -> tuple[str, list[list[object]]]:
    """PostgreSQL: a delta's new groups, minute rows and bucket rows in one statement (the
    first two as data-modifying ``WITH`` parts), each table's rows as one array per column,
    bound in binary (``%b``).

    One statement, where one per table (and ``executemany``, one per row) took up to three
    round trips. Text arrays are written by psycopg in Python, quoting each element, measured
    at 44 against 15 us per row of 80,000 rows in binary. No key is twice in a delta, so no
    row is upserted twice by one statement (which PostgreSQL refuses)."""
    p = "%b"
    used = [(sql, values) for sql, values in (
        (GROUPS_FROM.format(_unnest(PG_GROUP_TYPES, p)), groups),
        (minute_statement(p, _unnest(PG_MINUTE_TYPES, p)), minutes),
        (_upsert(_unnest(PG_TYPES, p)), rows)) if values]
    if not used:
        return "", []
    params = [list(column) for _, values in used for column in zip(*values, strict=True)]
    *first, (last, _) = used
    ctes = ", ".join(f"part{i} AS ({sql})" for i, (sql, _) in enumerate(first))
    return (f"WITH {ctes} {last}" if ctes else last), params


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
    """Writes deltas in one transaction on a raw driver connection; adds the groups it
    inserted (or found) to ``known`` once the transaction has committed (:meth:`committed`):
    a group of a rolled-back transaction is inserted again next time."""

    def __init__(self, driver: Any, is_sqlite: bool, known: set[int] | None = None) -> None:
        self.driver = driver
        self.is_sqlite = is_sqlite
        self.sql_groups, self.sql_buckets = statements("?" if is_sqlite else "%s")
        self.sql_minutes = minute_statement("?" if is_sqlite else "%s")
        self.known: set[int] = set() if known is None else known
        self._pending: set[int] = set()

    def write(self, delta: SpendDelta) -> None:
        """Insert the delta's new groups and add its rows into the minutes and the buckets."""
        # in id order: two writers inserting the same new groups wait for each other in one order
        new = sorted((g for gid, g in delta.groups.items() if gid not in self.known),
                     key=lambda g: g.id)
        groups = [(g.id, g.team, g.agent, g.provider, g.model, g.tags_json, g.currency,
                   g.fx_currency, g.retry) for g in new]
        self._pending.update(g.id for g in new)
        minutes = [(minute, gid, chain, cost >> LO_BITS, cost & LO_MASK)
                   for (minute, gid, chain), cost in sorted(delta.minutes.items())]
        rows = [bucket_row(key, values) for key, values in delta.rows.items()]
        cur = self.driver.cursor()
        if not self.is_sqlite:
            sql, params = pg_statement(groups, minutes, rows)
            if sql:
                cur.execute(sql, params)
            return
        for statement, values in ((self.sql_groups, groups), (self.sql_minutes, minutes),
                                  (self.sql_buckets, rows)):
            if values:
                cur.executemany(statement, values)

    def committed(self) -> None:
        """The transaction committed: its groups are stored."""
        self.known |= self._pending
        self._pending = set()
