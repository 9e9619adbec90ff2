"""Worker processes for the verifier's batches: one pipe per worker, no helper threads.

``multiprocessing.Pool`` runs three threads in the main process (a task feeder, a result
reader and a worker watcher that wakes on every task) which take the GIL from the main loop
and cost it CPU the workers could use. The verifier needs less: batches are dealt to the
workers in turn and their results read back in the order they were dealt, so each worker is a
process reading jobs from its own pipe and writing results to it.

Deadlock-free by construction: the caller sends a worker a job only when that worker has at
most ``depth - 1`` jobs outstanding, and jobs are small (a description of where the receipts
are) unless the caller lowers ``depth`` to 1 for jobs that carry bytes. A worker's result may
be large; the caller is then either reading it or reading an earlier one.
"""

from __future__ import annotations

import multiprocessing
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
    """``count`` processes running ``task`` on jobs in turn; results come back in job order."""

    def __init__(self, count: int, start_method: str, initializer: Callable[..., None],
                 initargs: tuple[Any, ...], task: Callable[[Any], Any]) -> None:
        context: Any = multiprocessing.get_context(start_method)  # (typeshed: no .Process)
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
        self._turn = 0
        self._outstanding: deque[Connection] = deque()

    def outstanding(self) -> int:
        """Jobs sent and not yet answered."""
        return len(self._outstanding)

    def submit(self, job: Any) -> None:
        """Send ``job`` to the next worker in turn."""
        conn = self._conns[self._turn]
        self._turn = (self._turn + 1) % len(self._conns)
        conn.send(job)
        self._outstanding.append(conn)

    def next_result(self) -> Any:
        """The result of the oldest outstanding job (re-raising the worker's exception)."""
        conn = self._outstanding.popleft()
        try:
            ok, value = conn.recv()
        except (EOFError, OSError) as e:
            raise WorkerStopped("a verifier worker process stopped without answering") from e
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
