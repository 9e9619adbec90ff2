"""The verifier's worker processes: results in order, failures re-raised, a lost worker named."""

from __future__ import annotations

import os
import signal
import time

import pytest

from verifier.errors import UsageError
from verifier.fast.workers import Workers, WorkerStopped

_FACTOR = 1


def _set_factor(factor: int) -> None:
    global _FACTOR
    _FACTOR = factor


def _task(job: int) -> int:
    if job < 0:
        raise UsageError(f"job {job} refused")
    if job == 99:
        os.kill(os.getpid(), signal.SIGKILL)
    return job * _FACTOR


def _workers(count: int = 3) -> Workers:
    return Workers(count, "fork", _set_factor, (10,), _task)


def test_results_come_back_in_the_order_jobs_were_sent() -> None:
    workers = _workers()
    try:
        results = []
        for job in range(20):
            workers.submit(job)
            if workers.outstanding() >= 6:
                results.append(workers.next_result())
        while workers.outstanding():
            results.append(workers.next_result())
        assert results == [job * 10 for job in range(20)]  # the initializer ran in each worker
    finally:
        workers.close()


def test_a_workers_exception_is_raised_in_the_caller_with_its_type() -> None:
    workers = _workers()
    try:
        workers.submit(1)
        workers.submit(-1)
        assert workers.next_result() == 10
        with pytest.raises(UsageError, match="job -1 refused"):
            workers.next_result()
        workers.submit(2)  # the worker that raised still serves
        workers.submit(3)
        assert [workers.next_result(), workers.next_result()] == [20, 30]
    finally:
        workers.close()


def test_a_worker_that_dies_is_reported_not_waited_for() -> None:
    workers = _workers(2)
    try:
        workers.submit(99)
        with pytest.raises(WorkerStopped):
            workers.next_result()
    finally:
        workers.close()


def _interrupt_self(job: int) -> int:
    os.kill(os.getpid(), signal.SIGINT)
    return job


def test_ctrl_c_is_left_to_the_main_process() -> None:
    """Workers ignore SIGINT (the whole process group gets it): no traceback from each, and
    the main process, which does get KeyboardInterrupt, stops them."""
    workers = Workers(1, "fork", _set_factor, (1,), _interrupt_self)
    try:
        workers.submit(7)
        assert workers.next_result() == 7
    finally:
        workers.close()


def _slow_first(job: int) -> tuple[int, int]:
    time.sleep(0.5 if job == 0 else 0.005)
    return job, os.getpid()


def test_jobs_go_to_the_worker_that_can_take_them_and_come_back_in_order() -> None:
    """A worker held up (here by a slow first job) gets no more than it can hold; the other
    takes the rest, and results still come back in submission order."""
    workers = Workers(2, "fork", _set_factor, (1,), _slow_first, depth=2)
    try:
        results = []
        for job in range(40):
            while not workers.can_take():
                workers.wait()
            while workers.outstanding() and workers.oldest_ready():
                results.append(workers.next_result())
            workers.submit(job)
        while workers.outstanding():
            results.append(workers.next_result())
        assert [job for job, _ in results] == list(range(40))
        slow = results[0][1]
        assert sum(pid == slow for _, pid in results) <= 3
    finally:
        workers.close()
