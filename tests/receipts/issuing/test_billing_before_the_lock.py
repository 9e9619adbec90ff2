"""Billing ahead of the writer lock gives exactly the receipts billing under it would.

The service bills a group's calls before taking the writer lock (issuing.service._bill_ahead)
and keeps those results only when the receipt's ``issued_at`` falls in the same UTC minute under
the same price book; otherwise it bills again under the lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import receipts.issuing.service as service_module
from receipts.api.schemas import CallIn
from receipts.deployment.runtime import create_agent, open_runtime
from receipts.issuing.outcome import Job
from receipts.issuing.prepare import prepare
from tests.receipts.conftest import Deployment, call

T0 = 1_764_547_200_000  # 2025-12-01T00:00:00Z


def _append_at(deployment: Deployment, monkeypatch: pytest.MonkeyPatch, times: list[int],
               prefix: str) -> tuple[list[dict[str, Any]], int]:
    """Append 5 calls with now_ms() answering ``times`` in turn; (payloads, bill_call count)."""
    clock: Iterator[int] = iter(times)
    monkeypatch.setattr(service_module, "now_ms", lambda: next(clock))
    billed = 0
    real_bill_call = service_module.bill_call

    def counting_bill_call(*args: Any, **kwargs: Any) -> Any:
        nonlocal billed
        billed += 1
        return real_bill_call(*args, **kwargs)

    monkeypatch.setattr(service_module, "bill_call", counting_bill_call)
    runtime = open_runtime(deployment.settings)
    try:
        runtime.service.load_pricing()  # as the server's start-up does
        agent, _ = create_agent(runtime, "search", {})
        calls = [prepare(agent, CallIn.model_validate(call(f"{prefix}{i}", model=model)),
                         ("team", "project", "environment"))
                 for i, model in enumerate(["gpt-4o", "gpt-4o-mini", "no-such-model",
                                            "gpt-4o", "claude-3-5-haiku"])]
        job = Job(calls)
        runtime.service.append([job])
    finally:
        runtime.close()
    assert job.error is None
    payloads = [o.payload for o in job.outcomes]
    assert all(p is not None for p in payloads)
    return [p for p in payloads if p is not None], billed


def _billing(payload: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(payload.get(k) for k in ("provider", "model", "usage", "unit_prices", "cost",
                                          "pricing_status", "service_tier", "issued_at"))


def test_same_minute_keeps_the_calls_billed_ahead(deployment: Deployment,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    payloads, billed = _append_at(deployment, monkeypatch, [T0 + 1_000, T0 + 2_000], "a")
    assert billed == 5  # once each, before the lock
    assert all(p["issued_at"] == T0 + 2_000 for p in payloads)


def test_another_minute_bills_again_under_the_lock_with_the_same_result(
        deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    late, billed = _append_at(deployment, monkeypatch, [T0 + 59_999, T0 + 60_000], "b")
    assert billed == 10  # ahead, then again: the minute changed before the lock was taken
    same, billed_once = _append_at(deployment, monkeypatch, [T0 + 60_000, T0 + 60_000], "c")
    assert billed_once == 5
    assert [_billing(p) for p in late] == [_billing(p) for p in same]


def test_billed_ahead_is_refused_for_another_book_or_minute(deployment: Deployment) -> None:
    runtime = open_runtime(deployment.settings)
    try:
        runtime.service.load_pricing()
        books = runtime.service.pricing.books
        other = type(books[0])(**{**books[0].__dict__})  # an equal book, but not the same one
        ahead = service_module.BilledAhead(books[0], T0 // 60_000, {})
        agent, _ = create_agent(runtime, "search", {})
        p = prepare(agent, CallIn.model_validate(call("x")), ("team", "project", "environment"))
        ahead.billed[id(p)] = object()  # type: ignore[assignment]
        assert ahead.get(p, books[0], T0 + 59_999) is not None
        assert ahead.get(p, books[0], T0 + 60_000) is None
        assert ahead.get(p, other, T0) is None
    finally:
        runtime.close()
