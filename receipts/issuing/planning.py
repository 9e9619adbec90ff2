"""Planning a group before anything is signed: each call's fate, and payloads the verifier
accepts.

:func:`plan` decides, from what the database holds, whether each call is new, a replay, a
conflict, from a revoked key or refused; :func:`checked` builds the new calls' payloads and puts
each through the verifier's schema step (:mod:`receipts.issuing.payload_check`), planning again
without the refused ones. Neither touches the database or signs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from receipts.deployment.credentials import UNKNOWN_OR_REVOKED
from receipts.errors import Conflict, FieldProblem, ReceiptsError, Unauthorized
from receipts.issuing.outcome import Job, Outcome
from receipts.issuing.payload_check import receipt_refusal
from receipts.issuing.prepare import Prepared, receipt_ids
from receipts.issuing.receipt_builder import Call


def plan(jobs: Sequence[Job], existing: Mapping[tuple[str, str], Outcome],
         hashes: Mapping[tuple[str, str], bytes], active: set[str],
         refused: Mapping[int, ReceiptsError] | None = None,
         ) -> list[tuple[Prepared, Outcome]]:
    """Decide each call's fate before signing anything: new, replay, conflict, revoked or
    refused (``refused``: calls whose receipt the verifier would reject, by ``id``).

    A call repeated inside the group (two concurrent retries) becomes one new receipt and
    one replay of it, exactly as if they had arrived one after the other. A failed atomic
    job keeps its outcomes, so that the failing call can be named.
    """
    fresh: dict[tuple[str, str], tuple[bytes, Outcome]] = {}
    to_sign: list[tuple[Prepared, Outcome]] = []
    for job in jobs:
        outcomes: list[Outcome] = []
        job_new: list[tuple[Prepared, Outcome]] = []
        for call in job.calls:
            if call.agent_id not in active:
                outcomes.append(Outcome(401, error=Unauthorized(UNKNOWN_OR_REVOKED)))
                continue
            stored = existing.get(call.key)
            known = (hashes[call.key], stored) if stored is not None else fresh.get(call.key)
            if known is None and refused and id(call) in refused:
                error = refused[id(call)]
                outcomes.append(Outcome(error.status, error=error))
                continue
            if known is None:
                outcome = Outcome(201)
                fresh[call.key] = (call.body_hash, outcome)
                job_new.append((call, outcome))
            elif known[0] != call.body_hash:
                outcome = Outcome(409, error=Conflict(
                    f"request_id {call.request_id!r} was already used with a different body",
                    [FieldProblem("request_id", "reused with a different body")]))
            else:
                outcome = Outcome(200, source=known[1])
            outcomes.append(outcome)
        failed = next((o.error for o in outcomes if o.error is not None), None)
        if job.atomic and failed is not None:
            job.error, job.outcomes = failed, outcomes
            for call, _ in job_new:
                del fresh[call.key]
            continue
        job.outcomes = outcomes
        to_sign.extend(job_new)
    return to_sign


def checked(jobs: Sequence[Job], to_sign: list[tuple[Prepared, Outcome]],
             build: Callable[[Prepared, str], tuple[Call, dict[str, Any]]],
             replan: Callable[[Mapping[int, ReceiptsError]], list[tuple[Prepared, Outcome]]],
             ) -> list[tuple[Prepared, Outcome, Call, dict[str, Any]]]:
    """Every new call's payload, built and put through the verifier's schema step before
    anything is signed (:mod:`receipts.issuing.payload_check`).

    A call whose receipt the verifier would refuse gets that error as its outcome and the
    group is planned again without it: its atomic job fails whole, and a repeat of it in the
    same group (then planned as new) is built and refused in turn. Payloads are built once.
    """
    built: dict[int, tuple[Call, dict[str, Any]]] = {}
    refused: dict[int, ReceiptsError] = {}
    while True:
        new = [p for p, _ in to_sign if id(p) not in built]
        again = False
        for p, receipt_id in zip(new, receipt_ids(len(new)), strict=True):
            built[id(p)] = build(p, receipt_id)
            problem = receipt_refusal(built[id(p)][1])
            if problem is not None:
                refused[id(p)], again = problem, True
        if not again:
            return [(p, outcome, *built[id(p)]) for p, outcome in to_sign]
        for job in jobs:
            job.outcomes, job.error = [], None
        to_sign = replan(refused)
