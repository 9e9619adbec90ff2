"""Property: whatever the interleaving of authorizations, settlements and expiries across
threads, a ``deny`` budget never has spent + reserved above its limit, reserved is exactly the
estimates still held, and spent is exactly what the settling receipts cost.

Each example drives the budget code's own transactions (``authorize.decide``, the append's
``spend.record``) from 1-4 threads on one database, with a fake clock for expiry; settlements
cost at most their estimate (a receipt dearer than its estimate may, by design, go over).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receipts.budgets import authorize, spend
from receipts.budgets.definition import parse_budget
from receipts.budgets.manage import set_budget
from receipts.budgets.raw import Raw
from receipts.budgets.reservations import Ask
from receipts.clock import now_ms
from receipts.storage.database import Database
from tests.receipts.conftest import postgres_schema

UNIT = 10**12
DAY = 86_400_000


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
       ) -> Iterator[Database]:
    with ExitStack() as stack:
        if request.param == "postgres":
            url = stack.enter_context(postgres_schema())
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('budget-props')}/db.sqlite"
        database = Database(url)
        database.create_schema()
        yield database
        database.dispose()


ops = st.lists(st.one_of(
    st.tuples(st.just("authorize"), st.integers(1, 40)),  # estimate in tenths of a unit
    st.tuples(st.just("settle"), st.integers(0, 10)),  # actual = estimate * n / 10
    st.tuples(st.just("tick"), st.sampled_from([1, 60_000, 300_000, 700_000])),  # ms
), min_size=1, max_size=40)


class _World:
    def __init__(self, db: Database, project: str, start: int) -> None:
        self.db, self.project, self.clock = db, project, start
        self.lock = threading.Lock()
        self.open: list[tuple[str, int]] = []  # allowed, not yet settled: (id, estimate)
        self.settled_cost = 0

    def now(self, advance: int = 0) -> int:
        with self.lock:
            self.clock += advance
            return self.clock

    def authorize(self, tenths: int) -> None:
        ask = Ask("agent-1", "r" + secrets.token_hex(6), "openai", "gpt-4o",
                  {"project": self.project}, tenths * UNIT // 10, hold_ms=600_000)
        with self.db.write() as conn:
            (answer,) = authorize.decide(Raw.of(conn), [ask], self.now(), "USD")
        if answer.decision == "allow":
            with self.lock:
                self.open.append((answer.body["reservation"]["id"], ask.estimate))

    def settle(self, tenths: int) -> None:
        with self.lock:
            if not self.open:
                return
            reservation, estimate = self.open.pop(0)
        with self.db.write() as conn:
            raw = Raw.of(conn)
            (state,) = raw.rows(f"SELECT state FROM receipts_reservation WHERE id = {raw.p}"
                                + raw.for_update, (reservation,))[0]
            if state != "held":
                return  # expired: a late receipt would be spend beyond the reservations
            cost = estimate * tenths // 10
            payload: dict[str, Any] = {
                "id": "rc" + secrets.token_hex(6), "agent": "agent-1", "provider": "openai",
                "model": "gpt-4o", "tags": {"project": self.project}, "cost_reporting": cost,
                "issued_at": self.now(), "fx": {"currency": "USD"}}
            spend.record(raw.driver, raw.is_sqlite, [(payload, reservation)])
        with self.lock:
            self.settled_cost += cost

    def counter(self) -> tuple[int, int, int]:
        with self.db.read() as conn:
            raw = Raw.of(conn)
            spent, reserved = raw.rows(
                "SELECT c.spent, c.reserved FROM receipts_budget_counter c JOIN receipts_budget "
                f"b ON b.id = c.budget_id WHERE b.name = {raw.p}", (self.project,))[0]
            held = sum(int(a) for (a,) in raw.rows(
                "SELECT h.amount FROM receipts_budget_hold h JOIN receipts_reservation r ON "
                "r.id = h.reservation_id JOIN receipts_budget b ON b.id = h.budget_id WHERE "
                f"b.name = {raw.p} AND r.state = 'held'", (self.project,)))
        return int(spent), int(reserved), held


@settings(max_examples=20, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=ops, threads=st.integers(1, 4), limit=st.integers(1, 8))
def test_deny_budgets_hold_under_any_interleaving(db: Database, plan: list[tuple[str, int]],
                                                  threads: int, limit: int) -> None:
    project = "p" + secrets.token_hex(6)
    start = now_ms()
    set_budget(db, parse_budget({
        "name": project, "scope": {"project": project}, "limit": str(limit),
        "period": {"from": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"},
        "at_limit": "deny"}), "USD")
    world = _World(db, project, start)
    failures: list[BaseException] = []

    def run(share: list[tuple[str, int]]) -> None:
        try:
            for op, n in share:
                if op == "authorize":
                    world.authorize(n)
                elif op == "settle":
                    world.settle(n)
                else:
                    world.now(n)
                spent, reserved, _ = world.counter()
                assert spent + reserved <= limit * UNIT
        except BaseException as e:  # (reported from the main thread)
            failures.append(e)

    workers = [threading.Thread(target=run, args=(plan[i::threads],)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not failures, failures[0]
    spent, reserved, held = world.counter()
    assert spent == world.settled_cost
    assert reserved == held
    assert spent + reserved <= limit * UNIT
