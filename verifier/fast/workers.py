"""Worker processes for the verifier's batches: one pipe per worker, no helper threads.

``multiprocessing.Pool`` runs three threads in the main process (a task feeder, a result
reader and a worker watcher that wakes on every task) which take the GIL from the main loop
and cost it CPU the workers could use. The verifier needs less: each worker is a process
reading jobs from its own pipe and writing results to it; a job goes to the worker with the
fewest jobs in hand (so a worker slowed down by the machine gets fewer, and none idles while
another still has a queue at the end), and results are handed back in the order the jobs were
submitted, whichever worker finished first.

Deadlock-free by construction: the caller sends a worker a job only when that worker has fewer
than ``depth`` jobs in hand, and jobs are small (a description of where the receipts are)
unless ``depth`` is 1 for jobs that carry bytes. A worker's result may be large; the caller
reads results as they come, whichever worker sends them.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from verifier.errors import VerifierError


class WorkerStopped(VerifierError):
    """A worker process ended without answering (killed, or out of memory)."""


def _serve(conn: Connection, initializer: Callable[..., None], initargs: tuple[Any, ...],
           task: Callable[[Any], Any]) -> None:
    """A worker: answer each job with ``(True, result)`` or ``(False, exception)``."""
    # Ctrl-C reaches every process of the group: the main process stops the workers itself,
    # which then leave quietly rather than each printing a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    initializer(*initargs)
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            answer: tuple[bool, Any] = (True, task(job))
        except Exception as e:
            answer = (False, e)
        try:
            conn.send(answer)
        except Exception as e:
            conn.send((False, RuntimeError(f"worker could not return its answer: {e!r}")))


class Workers:
    """``count`` processes running ``task`` on jobs; results come back in job order."""

    def __init__(self, count: int, start_method: str, initializer: Callable[..., None],
                 initargs: tuple[Any, ...], task: Callable[[Any], Any], depth: int = 2) -> None:
        context: Any = multiprocessing.get_context(start_method)  # (typeshed: no .Process)
        self._depth = depth
        self._conns: list[Connection] = []
        self._processes: list[Any] = []
        for _ in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, initializer, initargs, task),
                                      daemon=True)
            process.start()
            child.close()
            self._conns.append(parent)
            self._processes.append(process)
        self._in_hand: dict[Connection, deque[int]] = {conn: deque() for conn in self._conns}
        self._answers: dict[int, tuple[bool, Any]] = {}  # finished, not yet handed back
        self._submitted = 0
        self._handed_back = 0

    def outstanding(self) -> int:
        """Jobs submitted whose results have not been handed back yet."""
        return self._submitted - self._handed_back

    def can_take(self) -> bool:
        """Whether some worker has fewer than ``depth`` jobs in hand."""
        return any(len(jobs) < self._depth for jobs in self._in_hand.values())

    def submit(self, job: Any) -> None:
        """Send ``job`` to the worker with the fewest jobs in hand (see :meth:`can_take`)."""
        conn = min(self._conns, key=lambda c: len(self._in_hand[c]))
        conn.send(job)
        self._in_hand[conn].append(self._submitted)
        self._submitted += 1

    def oldest_ready(self) -> bool:
        """Whether the oldest outstanding job's result has arrived."""
        return self._handed_back in self._answers

    def wait(self) -> None:
        """Read the results that have arrived, waiting until at least one has."""
        busy = [conn for conn, jobs in self._in_hand.items() if jobs]
        for conn in multiprocessing.connection.wait(busy):
            assert isinstance(conn, Connection)
            try:
                answer = conn.recv()
            except (EOFError, OSError) as e:
                raise WorkerStopped("a verifier worker process stopped without answering") from e
            self._answers[self._in_hand[conn].popleft()] = answer

    def next_result(self) -> Any:
        """The result of the oldest outstanding job (re-raising the worker's exception)."""
        while not self.oldest_ready():
            self.wait()
        ok, value = self._answers.pop(self._handed_back)
        self._handed_back += 1
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Stop every worker now (results not yet read are dropped)."""
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            process.join()
        for conn in self._conns:
            conn.close()
