"""Pre-flight authorization: allow (holding the estimate), deny, or ask a human.

:func:`decide` answers a group of requests in one transaction: it locks the counters of every
budget period any of them touches (in budget-id order), then answers the requests one after
the other against those counters, so each sees the holds of those before it. That is what makes
the limit exact under concurrency: two requests can never both take the last room in a budget,
whatever the number of workers, because the second one reads the counter only after the first
one's transaction commits (PostgreSQL: ``FOR UPDATE``; SQLite: the writer lock).

A budget is *over* for a request when spent + reserved + the estimate exceeds its limit. Then
``deny`` refuses, ``approve`` creates an approval a human decides, and ``notify`` allows and
alerts once per period. A deny budget wins over an approve budget, which wins over notify.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from receipts.budgets import approvals, counters, reservations, watch
from receipts.budgets.catalog import CATALOG
from receipts.budgets.counters import Counter, CounterKey
from receipts.budgets.definition import Budget, iso, money
from receipts.budgets.raw import Raw
from receipts.budgets.reservations import Answer, Ask, Reservation
from receipts.deployment.suspensions import Suspension
from receipts.errors import Conflict, NotFound


def in_scope(budgets: Sequence[Budget], ask: Ask, now: int) -> list[tuple[Budget, int, int]]:
    """The budgets covering ``ask`` now, with their current period, by budget id."""
    found = []
    for b in budgets:
        if b.covers(ask.agent_id, ask.provider, ask.model, ask.tags):
            window = b.window(now)
            if window is not None:
                found.append((b, *window))
    return sorted(found, key=lambda t: t[0].id)


def _budget_json(b: Budget, c: Counter, estimate: int) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "at_limit": b.at_limit, "limit": money(b.limit),
            "spent": money(c.spent), "reserved": money(c.reserved),
            "remaining": money(b.limit - c.spent - c.reserved), "estimate": money(estimate)}


def allow_body(r: Reservation, held: Sequence[tuple[Budget, int]]) -> dict[str, Any]:
    """The ``allow`` answer: the reservation and the estimate held against each budget."""
    return {"decision": "allow", "reservation": {
        "id": r.id, "estimate": money(r.estimate), "state": r.state,
        "expires_at": iso(r.expires_at),
        "budgets": [{"id": b.id, "name": b.name, "held": money(a)} for b, a in held]}}


def over(b: Budget, c: Counter, estimate: int) -> bool:
    """Whether ``estimate`` does not fit in what ``b`` has left this period."""
    return c.spent + c.reserved + estimate > b.limit


def _why(b: Budget, c: Counter, estimate: int) -> str:
    return (f"budget {b.name!r} ({b.at_limit} at limit): estimate {money(estimate)} exceeds "
            f"what remains ({money(b.limit - c.spent - c.reserved)} of {money(b.limit)})")


@dataclass
class _Group:
    raw: Raw
    now: int
    currency: str | None
    locked: dict[CounterKey, Counter]
    made: list[Reservation] = field(default_factory=list)
    holds: list[tuple[str, str, int, int]] = field(default_factory=list)
    approvals: list[tuple[Any, ...]] = field(default_factory=list)

    def hold(self, ask: Ask, scope: Sequence[tuple[Budget, int, int]]) -> Answer:
        r = Reservation("rs_" + secrets.token_hex(12), ask.agent_id, ask.request_id,
                        ask.estimate, "held", self.now, self.now + ask.hold_ms)
        self.made.append(r)
        for b, start, _ in scope:
            c = self.locked[(b.id, start)]
            if b.at_limit == "notify" and over(b, c, ask.estimate):
                watch.limit_reached(self.raw, b, start, c, ask.estimate, self.currency,
                                    self.now)
            c.reserved += ask.estimate
            self.holds.append((r.id, b.id, start, ask.estimate))
        return Answer("allow", allow_body(r, [(b, ask.estimate) for b, _, _ in scope]))


SUSPENDED = "suspended"
"""The decision of an agent whose key is suspended (the route answers it with a 403)."""


def decide(raw: Raw, asks: Sequence[Ask], now: int, currency: str | None,
           budgets_version: str | None = None,
           suspended: Mapping[str, Suspension] | None = None) -> list[Answer]:
    """Answer ``asks`` in order, inside ``raw``'s write transaction (``budgets_version``: the
    budgets' version, when the caller has read it in this transaction; ``suspended``: the
    suspended agents as of it, whose requests get a ``suspended`` answer holding nothing)."""
    budgets = CATALOG.current(raw, budgets_version)
    reservations.release_expired(raw, now)
    keys = [(a.agent_id, a.request_id) for a in asks]
    done = reservations.stored(raw, keys)
    waiting = approvals.stored(raw, keys)
    scopes = [in_scope(budgets, a, now) for a in asks]
    group = _Group(raw, now, currency, counters.lock(
        raw, {(b.id, start): end for scope in scopes for b, start, end in scope}))
    answers: list[Answer] = []
    seen: dict[tuple[str, str], Answer] = {}
    for ask, scope, key in zip(asks, scopes, keys, strict=True):
        suspension = suspended.get(ask.agent_id) if suspended else None
        if suspension is not None:
            answers.append(Answer(SUSPENDED, {"error": str(suspension.refusal())}))
            continue
        if key in seen:
            answers.append(seen[key])
            continue
        if key in done:
            r = done[key]
            held = reservations.holds_json(raw, r.id)
            by_id = {b.id: b for b in budgets}
            answers.append(Answer("allow", allow_body(
                r, [(by_id[b], a) for b, _, a in held if b in by_id])))
            continue
        if key in waiting:
            answers.append(Answer("approval_required", approvals.body(waiting[key])))
            continue
        deny = next(((b, group.locked[(b.id, s)]) for b, s, _ in scope
                     if b.at_limit == "deny" and over(b, group.locked[(b.id, s)],
                                                      ask.estimate)), None)
        approve = next(((b, group.locked[(b.id, s)]) for b, s, _ in scope
                        if b.at_limit == "approve" and over(b, group.locked[(b.id, s)],
                                                            ask.estimate)), None)
        if deny is not None:
            b, c = deny
            answer = Answer("deny", {"decision": "deny", "reason": _why(b, c, ask.estimate),
                                     "budget": _budget_json(b, c, ask.estimate)})
        elif approve is not None:
            b, c = approve
            row = approvals.new(ask, b, _why(b, c, ask.estimate), now)
            group.approvals.append(row)
            answer = Answer("approval_required", approvals.body(approvals.Approval(*row)))
        else:
            answer = group.hold(ask, scope)
        seen[key] = answer
        answers.append(answer)
    with raw.pipeline():  # (PostgreSQL: one round trip for the group's writes)
        counters.save(raw, group.locked)
        reservations.insert(raw, group.made, group.holds)
        approvals.insert(raw, group.approvals)
    return answers


def grant(raw: Raw, ask: Ask, now: int, currency: str | None) -> Answer:
    """Hold an approved call's estimate (approve budgets waived; deny budgets still bind)."""
    budgets = CATALOG.current(raw)
    scope = in_scope(budgets, ask, now)
    group = _Group(raw, now, currency, counters.lock(
        raw, {(b.id, start): end for b, start, end in scope}))
    for b, start, _ in scope:
        c = group.locked[(b.id, start)]
        if b.at_limit == "deny" and over(b, c, ask.estimate):
            return Answer("deny", {"decision": "deny", "reason": _why(b, c, ask.estimate),
                                   "budget": _budget_json(b, c, ask.estimate)})
    answer = group.hold(ask, scope)
    counters.save(raw, group.locked)
    reservations.insert(raw, group.made, group.holds)
    return answer


def resolve_approval(raw: Raw, approval_id: str, approve: bool, now: int,
                     currency: str | None) -> approvals.Approval:
    """Approve (hold the call's estimate) or deny a pending approval; 404 unknown, 409 when
    already decided or when a ``deny`` budget has no room left for it."""
    found = approvals.fetch(raw, approval_id, lock=True)
    if found is None:
        raise NotFound(f"no approval {approval_id!r}")
    if found.state != "pending":
        raise Conflict(f"approval {approval_id} is already {found.state}")
    reservation = None
    if approve:
        answer = grant(raw, found.ask(), now, currency)
        if answer.decision != "allow":
            raise Conflict(f"cannot approve: {answer.body['reason']}")
        reservation = answer.body["reservation"]["id"]
    approvals.decided(raw, approval_id, "approved" if approve else "denied", reservation, now)
    decided = approvals.fetch(raw, approval_id)
    assert decided is not None
    return decided
