"""The authorization queue: requests answered in groups, one write transaction per group.

Like the receipt group commit (``issuing.group_commit``), and for the same reasons: a write
transaction costs one commit (an fsync on SQLite) whatever it holds, so requests that arrive
while a group is decided wait in the queue and form the next group; the group runs on the event
loop's own thread (a thread of its own would mostly wait for the GIL). Nobody is answered
before the transaction holding their reservation commits. Inside a group the requests are
decided one after the other (:func:`receipts.budgets.authorize.decide`), so grouping never
changes an answer, only the cost of giving it. A suspended agent's request is refused in the
group's transaction (:mod:`receipts.deployment.suspensions`: the version is read with the
budgets'), so no authorization is allowed after the suspension commits.

A group's commit does not wait for the disk (``Database.relaxed_connection``): it survives the
process being killed, and a machine losing power can lose the last moment's reservations. A
reservation is soft state that expires within minutes anyway; what is spent is counted in the
receipt's own, fully durable, transaction. Measured on the 2-core development machine, the
flush took 5-18 ms per commit, more than the 10 ms the answer is allowed at the 99th
percentile. For the same reason a group's commit never checkpoints SQLite's write-ahead log
(which flushes too): the gate has that done on a worker thread every few hundred groups.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import Connection

from receipts.budgets.authorize import decide
from receipts.budgets.catalog import VERSION_KEY, meta
from receipts.budgets.raw import Raw
from receipts.budgets.reservations import Answer, Ask
from receipts.clock import now_ms
from receipts.deployment import suspensions
from receipts.errors import ReceiptsError, Unavailable
from receipts.issuing.pricing_cache import PricingCache
from receipts.storage.append_sql import is_integrity_error
from receipts.storage.database import Database
from receipts.storage.queries import PRICING_VERSION

log = logging.getLogger("receipts.budgets")

MAX_GROUP = 500
CHECKPOINT_GROUPS = 200
"""SQLite: groups between two checkpoints of the write-ahead log, each run off the event loop.
A group's transaction writes a few pages; SQLite's own checkpoint (at 1,000 pages) would run in
some group's commit, on the loop, and flush to disk there: measured, it made the slowest 1 % of
groups take 6 ms instead of 1.6."""


class Gate:
    """Queues authorization requests and decides them in groups."""

    def __init__(self, db: Database, currency: str,
                 before: Callable[[Any, Mapping[str, str]], None] | None = None) -> None:
        self.db = db
        self.currency = currency
        self.before = before  # run first in each group's transaction (price book refresh)
        self._queue: deque[tuple[Ask, asyncio.Future[Answer]]] = deque()
        self._flusher: asyncio.Task[None] | None = None
        self.suspended = suspensions.Suspended()
        self._conn: Connection | None = None
        self._groups = 0  # since the last checkpoint
        self._checkpoint: asyncio.Future[None] | None = None

    async def submit(self, ask: Ask) -> Answer:
        """The answer to ``ask``, once its group has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._queue.append((ask, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._queue:
            await asyncio.sleep(0)  # requests already readable join this group
            group = [self._queue.popleft() for _ in range(min(MAX_GROUP, len(self._queue)))]
            try:
                answers = self.run([ask for ask, _ in group])
            except ReceiptsError as e:
                self._fail(group, e)
            except Exception as e:
                self._fail(group, Unavailable(f"not authorized, retry: {type(e).__name__}"))
            else:
                for (_, future), answer in zip(group, answers, strict=True):
                    if not future.done():
                        future.set_result(answer)
                self._after_group(asyncio.get_running_loop())

    @staticmethod
    def _fail(group: Sequence[tuple[Ask, asyncio.Future[Answer]]], error: Exception) -> None:
        for _, future in group:
            if not future.done():
                future.set_exception(error)

    def run(self, asks: Sequence[Ask]) -> list[Answer]:
        """Decide ``asks`` in one transaction (tried once more after a deadlock, after a
        unique-key clash with another worker answering the same request id: the retry sees
        its reservation and answers with it, or on a new connection after the kept one was
        lost, a database restart: the failed transaction did nothing)."""
        for attempt in range(2):
            try:
                with self._transaction() as conn:
                    raw = Raw.of(conn)
                    versions = meta(raw, PRICING_VERSION, VERSION_KEY, suspensions.VERSION_KEY)
                    if self.before is not None:
                        self.before(conn, versions)
                    suspended = self.suspended.current(
                        raw, versions.get(suspensions.VERSION_KEY, ""))
                    return decide(raw, asks, now_ms(), self.currency,
                                  versions.get(VERSION_KEY, ""), suspended)
            except ReceiptsError:
                raise
            except Exception as e:
                if attempt == 1 or not (is_integrity_error(e) or "deadlock" in str(e).lower()
                                        or _connection_error(e)):
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A group's transaction, on the connection the gate keeps (``Database.
        relaxed_connection``); one that failed is dropped, and the next group opens another."""
        if self._conn is None:
            self._conn = self.db.relaxed_connection()
        conn = self._conn
        try:
            with conn.begin():
                yield conn
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Drop the kept connection (never back to the pool: its settings differ)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # (already broken: nothing left to close)
                log.debug("closing the gate's connection", exc_info=True)

    def _after_group(self, loop: asyncio.AbstractEventLoop) -> None:
        """Every :data:`CHECKPOINT_GROUPS` groups on SQLite, checkpoint the write-ahead log
        on a worker thread (a group's commit does not: ``Database.relaxed_connection``)."""
        if not self.db.is_sqlite:
            return
        self._groups += 1
        if self._groups >= CHECKPOINT_GROUPS and (self._checkpoint is None
                                                  or self._checkpoint.done()):
            self._groups = 0
            self._checkpoint = loop.run_in_executor(None, self._checkpoint_now)

    def _checkpoint_now(self) -> None:
        try:
            self.db.checkpoint()
        except Exception:  # (the next one catches up; a closing service may refuse this one)
            log.warning("write-ahead log checkpoint failed", exc_info=True)


def _connection_error(error: BaseException) -> bool:
    """A driver's operational error (either driver's ``OperationalError``: the server ended
    the connection, a restart): the failed group is tried again, on a new connection."""
    return any(cls.__name__ in ("OperationalError", "InterfaceError")
               for cls in type(error).__mro__)


def refresh_when_changed(pricing: PricingCache) -> Callable[[Any, Mapping[str, str]], None]:
    """What a group runs first: reload the price books and FX rates estimates are priced with
    when another process added one (the group reads the version with the budgets')."""

    def refresh(conn: Any, versions: Mapping[str, str]) -> None:
        if int(versions.get(PRICING_VERSION, 0)) != pricing.version:
            pricing.refresh(conn)

    return refresh
