"""Receipts delivered off the agent's path: the call returns at once, a thread asks for its
receipt (``wrap(..., background=True)``).

Inline delivery (the default) makes each LLM call wait one round trip to the receipts service
before it returns, so the receipt is known (and spooled if need be) when the agent goes on; on
a busy machine that round trip is most of what a receipt costs the agent. In the background,
the call only puts its facts on a queue (microseconds, and never a wait on the event loop); one
thread delivers them in the order the calls ended, through a blocking client with the same
retries and spool. What it risks: the calls still on the queue when the process is killed
(a normal exit waits for the queue, up to ``exit_timeout``, and the client then flushes its
spool as usual).
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any

from receipts.client.clients import AsyncReceiptsClient, ReceiptsClient
from receipts.client.wire import Recorded

_log = logging.getLogger("receipts.client")

Job = tuple[dict[str, Any], Callable[[Recorded], None], Callable[[Exception], None]]


def blocking_twin(client: AsyncReceiptsClient) -> ReceiptsClient:
    """A blocking client with ``client``'s service, key, spool, pinned key and retries."""
    return ReceiptsClient(client.base_url, client.headers["Authorization"][7:],
                          spool=client.spool, public_key=client.key,
                          keep_cose=client.keep_cose, retries=client.retries,
                          backoff=client.backoff)


class Background:
    """One delivery thread and its queue."""

    def __init__(self, receipts: ReceiptsClient | AsyncReceiptsClient,
                 exit_timeout: float = 10.0) -> None:
        self.receipts = receipts if isinstance(receipts, ReceiptsClient) \
            else blocking_twin(receipts)
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.exit_timeout = exit_timeout
        self.thread = threading.Thread(target=self._run, name="receipts-delivery", daemon=True)
        self.thread.start()
        atexit.register(_drain_at_exit, weakref.ref(self))

    def submit(self, arguments: dict[str, Any], done: Callable[[Recorded], None],
               failed: Callable[[Exception], None]) -> None:
        """Queue one call's ``record`` arguments."""
        self.jobs.put((arguments, done, failed))

    def wait(self, timeout: float | None = None) -> bool:
        """Until every call queued so far has been delivered (or has failed); False if
        ``timeout`` seconds passed first."""
        with self.jobs.all_tasks_done:
            return self.jobs.all_tasks_done.wait_for(lambda: not self.jobs.unfinished_tasks,
                                                     timeout)

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            arguments, done, failed = job
            try:
                done(self.receipts.record(**arguments))
            except Exception as e:  # reported, and the next call is delivered
                failed(e)
            finally:
                self.jobs.task_done()
        self.jobs.task_done()

    def stop(self, timeout: float | None = None) -> None:
        """Deliver what is queued, then end the thread."""
        if self.thread.is_alive():
            self.jobs.put(None)
            self.thread.join(timeout)


def _drain_at_exit(ref: weakref.ref[Background]) -> None:
    background = ref()
    if background is not None:
        background.stop(background.exit_timeout)
        if background.thread.is_alive():
            _log.warning("receipts: %d call(s) not delivered at exit",
                         background.jobs.qsize())
