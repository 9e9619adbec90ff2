"""Receipt-time enforcement: judge a prepared call against the policy in force, before it is
queued for signing; record the flags of the receipts that were signed.

The hook is two calls in the receipt routes: :meth:`PolicyGate.judge` right after
:func:`receipts.issuing.prepare.prepare` (a ``deny`` violation is a 422 naming the rule, and
nothing is queued), and :meth:`PolicyGate.record` once the receipt is committed (``flag``
violations, stored beside the ledger: the signed payload is never changed).

Each process re-reads the policy version at most every :data:`POLICY_CACHE_SECONDS` (one index
probe), so a ``receipt policy set`` reaches every worker and replica within that time; the
process that served ``PUT /v1/policy`` uses the new version at once. Flags are written in their
own transaction just after the receipt's commit: a crash between the two leaves that receipt
unflagged (never a flag without its receipt).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from receipts.clock import now_ms
from receipts.deployment.runtime import Runtime
from receipts.errors import FieldProblem, Invalid
from receipts.issuing.outcome import Outcome
from receipts.issuing.prepare import Prepared
from receipts.policies import store
from receipts.policies.evaluate import Violation, evaluate
from receipts.policies.store import PolicyVersion

POLICY_CACHE_SECONDS = 2.0


class PolicyDenied(Invalid):
    """A call that breaks a ``deny`` rule of the policy in force (HTTP 422)."""

    code = "policy_denied"


def denial(violations: Sequence[Violation]) -> PolicyDenied:
    """The 422 for ``deny`` violations: the first rule's name and message, every field."""
    first = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return PolicyDenied(f"policy rule {first.rule!r}: {first.message}{more}",
                        [FieldProblem(v.field, f"rule {v.rule}: {v.message} ({v.detail})")
                         for v in violations])


@dataclass(frozen=True)
class Judged:
    """The ``flag`` violations of an allowed call, under policy ``version``."""

    flags: tuple[Violation, ...] = ()
    version: int = 0


NOTHING = Judged()


class PolicyGate:
    """The policy in force (cached per process) and its enforcement on receipts."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._lock = threading.Lock()
        self._version: PolicyVersion | None = None
        self._read_at = float("-inf")

    def current(self) -> PolicyVersion | None:
        """The newest version (re-read when the cached one is older than the cache time)."""
        now = time.monotonic()
        if now - self._read_at < POLICY_CACHE_SECONDS:
            return self._version
        with self._lock, self.runtime.db.read() as conn:
            number = store.current_number(conn)
            if number != (self._version.version if self._version else 0):
                self._version = store.current(conn)
            self._read_at = now
        return self._version

    def use(self, version: PolicyVersion) -> None:
        """Take a version this process just stored (no wait for the cache)."""
        with self._lock:
            self._version, self._read_at = version, time.monotonic()

    def judge(self, p: Prepared) -> Judged:
        """The call's flags, or a :class:`PolicyDenied` if it breaks a ``deny`` rule (unless it
        replays a stored receipt: a replay answers with the original, whatever the policy)."""
        version = self.current()
        if version is None or not version.policy.rules:
            return NOTHING
        policy = version.policy
        cost = self.runtime.service.estimated_cost(p) if policy.needs_cost_for(p.tags) \
            else None
        found = evaluate(policy, p.provider, p.model, p.tags, cost)
        if not found:
            return NOTHING
        denied = [v for v in found if v.denies]
        if denied:
            with self.runtime.db.read() as conn:
                if store.stored_request(conn, p.agent_id, p.request_id):
                    return NOTHING
            raise denial(denied)
        return Judged(tuple(found), version.version)

    def record(self, done: Sequence[tuple[Prepared, Judged, Outcome]]) -> None:
        """Store the flags of the receipts just signed (201s; replays were flagged before)."""
        rows = [(p, j, o) for p, j, o in done if j.flags and o.status == 201 and o.error is None]
        if not rows:
            return
        now = now_ms()
        with self.runtime.db.write() as conn:
            for p, judged, outcome in rows:
                store.record_flags(conn, outcome.json_view()["id"], p.agent_id,
                                   p.tags.get("team"), judged.version, judged.flags, now)
