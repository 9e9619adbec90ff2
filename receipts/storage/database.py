"""Database access: the engine and the two kinds of transaction the service uses.

* ``read()``: a plain transaction for queries.
* ``write()``: a transaction that may append to chains. On SQLite it starts with ``BEGIN
  IMMEDIATE`` so the writer lock is taken up front (SQLite allows one writer; taking the lock late
  would turn concurrent appends into deadlock retries). On PostgreSQL appends serialize on the
  chain head row (``SELECT ... FOR UPDATE`` in :mod:`storage.queries`), so writes to different
  chains proceed in parallel.

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk before the service
acknowledges a receipt, which is the durability promise (the group commit in
:mod:`receipts.issuing.group_commit` pays that fsync once per group, not once per receipt).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from receipts.alerts import tables as _alert_tables  # noqa: F401  (registers alert tables)
from receipts.allocations import tables as _allocation_tables  # noqa: F401  (the set table)
from receipts.anomaly import lease as _lease_table  # noqa: F401  (registers the lease table)
from receipts.budgets import tables as _budget_tables  # noqa: F401  (registers budget tables)
from receipts.deployment import suspensions as _suspensions  # noqa: F401  (registers its table)
from receipts.errors import ConfigError
from receipts.policies import tables as _policy_tables  # noqa: F401  (registers policy tables)
from receipts.spend import tables as _spend_tables  # noqa: F401  (registers spend tables)
from receipts.storage.tables import METADATA

_WRITE = "receipts_write"
WAL_AUTOCHECKPOINT = 1000
"""SQLite's default: a commit checkpoints once the write-ahead log holds this many pages."""


def _sqlite_engine(url: str) -> Engine:
    engine = sa.create_engine(url, pool_size=8, max_overflow=16, pool_pre_ping=False,
                              connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def make_engine(url: str) -> Engine:
    """An engine for ``sqlite:///PATH`` or ``postgresql+psycopg://...``."""
    if url.startswith("sqlite:///"):
        return _sqlite_engine(url)
    if url.startswith("postgresql"):
        return sa.create_engine(url, pool_size=4, max_overflow=12, pool_pre_ping=True)
    raise ConfigError("the database URL must be sqlite:///PATH or postgresql+psycopg://...")


class Database:
    """One engine and its transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = url.startswith("sqlite")

    def create_schema(self) -> None:
        """Create the tables that do not exist yet (idempotent)."""
        METADATA.create_all(self.engine)

    def has_schema(self) -> bool:
        """True once ``receipt init`` made the tables."""
        return sa.inspect(self.engine).has_table("receipts_meta")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction for queries."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self, durable: bool = True) -> Iterator[Connection]:
        """A transaction that may append (SQLite: takes the writer lock at BEGIN).

        ``durable=False`` is for soft state that expires on its own (budget reservations):
        the commit survives the process being killed but not the machine losing power
        (SQLite ``synchronous=NORMAL``, PostgreSQL ``synchronous_commit = off``), and costs no
        disk flush. Receipts never go this way. On SQLite such a commit does not checkpoint
        the write-ahead log either (a checkpoint flushes): whoever writes that way calls
        :meth:`checkpoint` now and then, off the event loop.
        """
        with self.engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            relaxed = not durable and self.is_sqlite
            driver: Any = conn.connection.driver_connection
            if relaxed:  # (SQLite refuses to change it inside a transaction)
                driver.execute("PRAGMA synchronous=NORMAL")
                driver.execute("PRAGMA wal_autocheckpoint=0")
            try:
                with conn.begin():
                    if not durable and not self.is_sqlite:
                        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                    yield conn
            finally:
                if relaxed:
                    driver.execute("PRAGMA synchronous=FULL")
                    driver.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")

    def relaxed_connection(self) -> Connection:
        """A connection for one writer of soft state to keep (the authorization gate): its
        transactions commit as ``write(durable=False)``'s do, set once for the session
        (SQLite ``synchronous=NORMAL`` and no automatic checkpoint, PostgreSQL
        ``synchronous_commit = off``), and begin as :meth:`write`'s (SQLite ``BEGIN
        IMMEDIATE``). Kept, it saves each transaction the pool (PostgreSQL: its ping, a round
        trip) and those settings' statements: measured on SQLite, 58 us of CPU per transaction
        down to 15. Never give it back to the pool (its settings differ): ``invalidate()``
        it, then ``close()``."""
        conn = self.engine.connect()
        conn.execution_options(**{_WRITE: True})
        driver: Any = conn.connection.driver_connection
        if self.is_sqlite:
            driver.execute("PRAGMA synchronous=NORMAL")
            driver.execute("PRAGMA wal_autocheckpoint=0")
        else:
            conn.exec_driver_sql("SET synchronous_commit TO OFF")
            conn.commit()
        return conn

    def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database as far as readers allow
        (``PASSIVE``: it waits for no reader or writer). Nothing to do on PostgreSQL."""
        if not self.is_sqlite:
            return
        with self.engine.connect() as conn:
            conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                "PRAGMA wal_checkpoint(PASSIVE)")

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()
