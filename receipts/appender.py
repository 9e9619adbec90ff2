"""Group commit: many concurrent requests, one write transaction, each answered after commit.

Request handlers hand their prepared calls to :meth:`Appender.submit` and wait. One flusher
task takes everything queued so far and appends it through :class:`ReceiptService` on a single
writer thread, in one transaction (one chain lock, one fsync), then wakes each waiter with its
own outcome. While a group is being written, the next one accumulates, so under load the group
size grows with the arrival rate and at low load a request is written alone, at once. Nobody is
answered before the commit that holds their receipt.
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from receipts.errors import ReceiptsError, Unavailable
from receipts.service import Job, ReceiptService

MAX_GROUP_CALLS = 2000
"""Calls per transaction at most (bounds a group's latency and memory)."""


class Appender:
    """Queues jobs from the event loop and writes them in groups on one thread."""

    def __init__(self, service: ReceiptService) -> None:
        self.service = service
        self._queue: deque[tuple[Job, asyncio.Future[None]]] = deque()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="receipts-writer")
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False

    async def submit(self, job: Job) -> Job:
        """Append ``job`` (in the next group) and return it with outcomes or error filled."""
        if self._closed:
            raise Unavailable("the service is shutting down")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.append((job, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        await future
        return job

    def _take_group(self) -> list[tuple[Job, asyncio.Future[None]]]:
        group: list[tuple[Job, asyncio.Future[None]]] = []
        calls = 0
        while self._queue and (not group or calls + len(self._queue[0][0].calls)
                               <= MAX_GROUP_CALLS):
            entry = self._queue.popleft()
            group.append(entry)
            calls += len(entry[0].calls)
        return group

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            group = self._take_group()
            jobs = [job for job, _ in group]
            try:
                await loop.run_in_executor(self._executor, self.service.append, jobs)
            except ReceiptsError as e:
                for _, future in group:
                    if not future.done():
                        future.set_exception(e)
                continue
            except Exception as e:  # a database failure: nobody in this group is acknowledged
                error = Unavailable(f"receipt not stored: {type(e).__name__}")
                for _, future in group:
                    if not future.done():
                        future.set_exception(error)
                continue
            for _, future in group:
                if not future.done():
                    future.set_result(None)

    async def close(self) -> None:
        """Finish queued groups, then stop the writer thread."""
        self._closed = True
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        self._executor.shutdown(wait=True)
