"""Running an audit on every core: worker processes read and price JSON lines, the main
process takes the calls in log order.

Reading a line (JSON, the shape, usage normalization) and pricing it
(:meth:`~receipts.audit.analysis.Audit.assess`) depend on the line alone, and are most of the
work; the totals, duplicates and name warnings (:meth:`~receipts.audit.analysis.Audit.account`)
depend on the order of the calls, and stay in the main process, which takes each batch's
calls in the order of the log. So the result is the same, to the line reference, as reading
in one process. Batches of :data:`BATCH` lines go to the verifier's worker pool
(:class:`verifier.fast.workers.Workers`: results in submission order, one batch in a worker's hands
at a time, since a job carries its lines, so memory stays bounded). Small logs, CSV files and
single JSON documents are read in the main process; workers start only when a JSON-lines file
has more than one batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping

from receipts.audit.analysis import Assessed, Audit
from receipts.errors import UnreadableLog
from receipts.logs.records import LogCall
from receipts.logs.sources import JsonLines, calls_of_line, log_parts
from verifier.fast.workers import Workers

BATCH = 2_000
_START_METHOD = "fork" if os.name == "posix" else "spawn"

Lines = list[tuple[int, str]]
Assessment = tuple[str, str, str, str | None, dict[str, str], int | None, int,
                   int | None, tuple[str, str] | None, bool, tuple[str, int] | None]
"""A call and its assessment as a worker returns it (a tuple: cheap to send)."""

_AUDIT: Audit | None = None


def _init(audit: Audit) -> None:
    global _AUDIT
    _AUDIT = audit


def assess_lines(job: tuple[str, Lines]) -> tuple[list[Assessment], str | None]:
    """A worker's job: read and assess a batch of JSON lines. Returns the assessments and the
    first line's refusal, if any (the lines before it are assessed: the main process reports
    the refusal once it has taken them, as a single process would)."""
    audit = _AUDIT
    assert audit is not None
    name, lines = job
    out: list[Assessment] = []
    try:
        for number, text in lines:
            for call in calls_of_line(number, text, name):
                a = audit.assess(call)
                out.append((call.where, call.provider, call.model, call.request_id, call.tags,
                            call.logged_cost, call.calls, a.cost, a.billed, a.unknown,
                            a.mismatch))
    except UnreadableLog as e:
        return out, str(e)
    return out, None


def _take(audit: Audit, result: tuple[list[Assessment], str | None]) -> None:
    assessed, refusal = result
    for where, provider, model, request_id, tags, logged, calls, cost, billed, unknown, \
            mismatch in assessed:
        audit.account(LogCall(where, provider, model, request_id, tags=tags,
                              logged_cost=logged, calls=calls),
                      Assessed(cost, billed, unknown, mismatch))
    if refusal is not None:
        raise UnreadableLog(refusal)


def _batches(lines: Iterator[tuple[int, str]]) -> Iterator[Lines]:
    batch: Lines = []
    for item in lines:
        batch.append(item)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


class _Pool:
    """The workers, started on first need and kept for the following files."""

    def __init__(self, audit: Audit, count: int) -> None:
        self.audit, self.count = audit, count
        self.workers: Workers | None = None

    def run(self, part: JsonLines) -> None:
        """Every line of ``part``: the first batch here (which also fills the model-name
        caches the workers then inherit), the others by the workers."""
        batches = _batches(part.lines)
        first = next(batches, None)
        if first is None:
            return
        _init(self.audit)
        _take(self.audit, assess_lines((part.name, first)))
        if self.count <= 1:
            for batch in batches:
                _take(self.audit, assess_lines((part.name, batch)))
            return
        in_flight = 0
        for batch in batches:
            workers = self._workers()
            while not workers.can_take():
                _take(self.audit, workers.next_result())
                in_flight -= 1
            workers.submit((part.name, batch))
            in_flight += 1
        for _ in range(in_flight):
            assert self.workers is not None
            _take(self.audit, self.workers.next_result())

    def _workers(self) -> Workers:
        if self.workers is None:
            self.workers = Workers(self.count, _START_METHOD, _init, (self.audit,),
                                   assess_lines, depth=1)  # jobs carry their lines
        return self.workers

    def close(self) -> None:
        if self.workers is not None:
            self.workers.close()


def run_audit(audit: Audit, paths: Iterable[str], mapping: Mapping[str, str] | None = None,
              workers: int = 0) -> Audit:
    """Add every call of ``paths`` to ``audit``, with ``workers`` processes (0: one per core;
    1: this process only). Returns ``audit``."""
    count = workers or os.cpu_count() or 1
    pool = _Pool(audit, count)
    try:
        for part in log_parts(paths, mapping):
            if isinstance(part, JsonLines):
                pool.run(part)
            else:
                audit.add_all(part)
    finally:
        pool.close()
    return audit
