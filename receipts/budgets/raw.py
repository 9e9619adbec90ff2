# ruff: noqa: S608 - SQL text holds only fixed names and driver placeholders, never values
"""The budget code's SQL on the driver connection, shared by the receipt append and the API.

The receipt append runs on a raw driver connection (``storage.append_sql``), so the budget
statements it runs (counters, holds, alerts) are written for the driver too; the API's
transactions hand the same driver connection under their SQLAlchemy transaction, so one set of
statements serves both. :class:`Raw` also lets ``alerts.store.raise_alert``, written for a
SQLAlchemy connection, run inside the append: it compiles that function's statements for the
dialect and runs them on the driver cursor, in the same transaction.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

_DIALECTS = {"sqlite": sqlite.dialect(paramstyle="qmark"),
             "postgresql": postgresql.psycopg.dialect()}  # type: ignore[no-untyped-call]


ROWS_PER_INSERT = 500
"""Rows per multi-row ``INSERT`` on PostgreSQL (its bind parameters stop at 65,535)."""


class _Dialect:
    def __init__(self, name: str) -> None:
        self.name = name


class _Result:
    """The part of a SQLAlchemy result ``raise_alert`` reads: ``one()`` by attribute."""

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def one(self) -> Any:
        if len(self.rows) != 1:
            raise LookupError(f"expected one row, got {len(self.rows)}")
        return self.rows[0]

    def all(self) -> list[Any]:
        return self.rows


class Raw:
    """A driver connection (sqlite3 or psycopg) inside an open transaction."""

    def __init__(self, driver: Any, is_sqlite: bool) -> None:
        self.driver = driver
        self.is_sqlite = is_sqlite
        self.p = "?" if is_sqlite else "%s"
        self.dialect = _Dialect("sqlite" if is_sqlite else "postgresql")
        self.for_update = "" if is_sqlite else " FOR UPDATE"

    @classmethod
    def of(cls, conn: Connection) -> Raw:
        """The driver connection under a SQLAlchemy connection's transaction."""
        return cls(conn.connection.driver_connection, conn.dialect.name == "sqlite")

    def money(self, units: int) -> Any:
        """A money column's value (text on SQLite, see ``budgets.tables``)."""
        return str(units) if self.is_sqlite else units

    def marks(self, n: int) -> str:
        """``?, ?, ?`` for ``n`` values."""
        return ", ".join([self.p] * n)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.driver.cursor()
        cur.execute(sql, tuple(params))
        return list(cur.fetchall()) if cur.description else []

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self.driver.cursor()
        cur.execute(sql, tuple(params))
        return int(cur.rowcount)

    def many(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(p) for p in params]
        if batch:
            self.driver.cursor().executemany(sql, batch)

    def insert_ignore(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                      ) -> None:
        """``INSERT ... ON CONFLICT DO NOTHING`` of many rows (:meth:`insert_rows`)."""
        self.insert_rows(table, columns, rows, " ON CONFLICT DO NOTHING")

    def insert_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                    suffix: str = "") -> None:
        """``INSERT`` of many rows, in their order. PostgreSQL: one multi-row statement per
        :data:`ROWS_PER_INSERT` rows (row by row, even pipelined, each row is a statement the
        server parses and answers: measured, 300 us for a group's 10 reservations); SQLite:
        ``executemany`` (in-process, a statement costs no round trip)."""
        batch = [tuple(r) for r in rows]
        if not batch:
            return
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        one = f"({self.marks(len(columns))})"
        if self.is_sqlite:
            self.driver.cursor().executemany(head + one + suffix, batch)
            return
        cur = self.driver.cursor()
        for i in range(0, len(batch), ROWS_PER_INSERT):
            chunk = batch[i:i + ROWS_PER_INSERT]
            cur.execute(head + ", ".join([one] * len(chunk)) + suffix,
                        [v for row in chunk for v in row])

    def pipeline(self) -> AbstractContextManager[Any]:
        """Statements whose results nobody reads, sent together (PostgreSQL's pipeline mode:
        one round trip for all of them, at the block's end); on SQLite, nothing changes."""
        return nullcontext() if self.is_sqlite else self.driver.pipeline()

    def by_request(self, table: str, columns: str, agent_id: str, request_ids: Sequence[str],
                   ) -> list[tuple[Any, ...]]:
        """Rows of ``table`` for one agent's request ids (its unique key is (agent_id,
        request_id)). PostgreSQL: one index lookup per id, whatever the statistics say; with
        ``request_id IN (...)`` a table not yet analyzed was read through all the agent's rows
        (measured: 950 us for 10 ids among 3,500 reservations, 60 us once analyzed). The
        ``LIMIT 1`` (the key is unique) keeps the planner from flattening the lateral lookup
        into that same scan."""
        if self.is_sqlite:
            return self.rows(f"SELECT {columns} FROM {table} WHERE agent_id = ? AND request_id "
                             f"IN ({self.marks(len(request_ids))})", (agent_id, *request_ids))
        outer = ", ".join("found." + c.strip() for c in columns.split(","))
        return self.rows(f"SELECT {outer} FROM unnest(%s::text[]) AS wanted(request_id) "
                         f"CROSS JOIN LATERAL (SELECT {columns} FROM {table} WHERE agent_id = %s "
                         f"AND request_id = wanted.request_id LIMIT 1) AS found",
                         (list(request_ids), agent_id))

    def execute(self, statement: sa.Executable) -> _Result:
        """Run a SQLAlchemy Core statement (as ``Connection.execute`` would)."""
        dialect = _DIALECTS[self.dialect.name]
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        if self.is_sqlite:
            params: Any = tuple(compiled.params[k] for k in compiled.positiontup or ())
        else:
            params = compiled.params
        cur = self.driver.cursor()
        cur.execute(str(compiled), params)
        if not cur.description:
            return _Result([])
        row_type = namedtuple("row_type", [d[0] for d in cur.description])  # type: ignore[misc]
        return _Result([row_type(*r) for r in cur.fetchall()])

    def as_connection(self) -> Connection:
        """This, typed as the SQLAlchemy connection ``raise_alert`` takes."""
        return self  # type: ignore[return-value]
