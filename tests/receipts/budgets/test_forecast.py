"""The period-end forecast (a pure function) and the alerts budgets raise."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from receipts.budgets.definition import iso
from receipts.budgets.forecast import DAY_MS, forecast
from receipts.clock import now_ms
from tests.receipts.budgets.test_approvals import _alerts
from tests.receipts.conftest import Deployment, call

U = 10**12


def test_a_steady_burn_projects_its_rate_with_no_spread() -> None:
    days = {d * DAY_MS: U for d in range(10)}
    f = forecast(10 * U, days, 0, 30 * DAY_MS, 10 * DAY_MS)
    assert (f.projected, f.low, f.high, f.rate_per_day, f.days_observed) == (
        30 * U, 30 * U, 30 * U, U, 10)
    assert f.overrun(29 * U) and not f.overrun(30 * U)


def test_an_uneven_burn_widens_the_interval() -> None:
    days = {d * DAY_MS: (2 * U if d % 2 else 0) for d in range(10)}
    f = forecast(10 * U, days, 0, 30 * DAY_MS, 10 * DAY_MS)
    s = Decimal(10 / 9).sqrt()  # sample standard deviation of 0, 2, 0, 2, ...
    margin = Decimal("1.96") * s * Decimal(20).sqrt()
    assert f.projected == 30 * U
    assert abs(Decimal(f.high - f.projected) / U - margin) < Decimal("1e-6")
    assert abs(Decimal(f.projected - f.low) / U - margin) < Decimal("1e-6")


def test_without_two_complete_days_the_spread_is_the_rate_itself() -> None:
    f = forecast(U, {}, 0, 30 * DAY_MS, DAY_MS // 2)  # half a day in, one unit spent
    assert f.days_observed == 0 and f.rate_per_day == 2 * U
    margin = Decimal("1.96") * 2 * Decimal("29.5").sqrt()
    assert abs(Decimal(f.high - f.projected) / U - margin) < Decimal("1e-6")
    assert f.low >= U  # never below what is spent


def test_before_any_spend_and_after_the_period_it_is_what_is_spent() -> None:
    assert forecast(0, {}, 0, 30 * DAY_MS, DAY_MS).projected == 0
    done = forecast(7 * U, {}, 0, 30 * DAY_MS, 31 * DAY_MS)
    assert (done.projected, done.low, done.high) == (7 * U, 7 * U, 7 * U)


def _budget(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "ranker", "scope": {"team": "search"}, "limit": "0.01",
                            "period": "month", "thresholds": [50, 80, 100]}
    body.update(overrides)
    return body


def test_each_threshold_alerts_once_per_period(dep: Deployment) -> None:
    _, agent = dep.agent("search")
    with dep.client() as client:
        client.post("/v1/receipts", json=call("r0"), headers=agent)  # 0.004: 40%
        client.post("/v1/budgets", json=_budget(thresholds=[30, 50, 80, 100]),
                    headers=dep.admin)
        assert [a.payload["threshold"] for a in _alerts(dep)] == [30]  # crossed before
        for i in range(1, 5):  # 80%, 120%, 160%, 200%
            client.post("/v1/receipts", json=call(f"r{i}"), headers=agent)
    alerts = [a for a in _alerts(dep) if a.kind == "budget_threshold"]
    assert sorted(a.payload["threshold"] for a in alerts) == [30, 50, 80, 100]
    hundred = next(a for a in alerts if a.payload["threshold"] == 100)
    assert hundred.payload["spent"] == "0.012000000000" and hundred.payload["currency"] == "USD"
    assert hundred.dedup_key.endswith(":100") and hundred.scope == "team=search"


def test_a_predicted_overrun_alerts_before_the_thresholds(dep: Deployment) -> None:
    now = now_ms()
    _, agent = dep.agent("search")
    with dep.client() as client:
        client.post("/v1/budgets", headers=dep.admin, json=_budget(period={
            "from": iso(now - DAY_MS), "until": iso(now + 9 * DAY_MS)}))
        client.post("/v1/receipts", json=call("r0"), headers=agent)  # 40% after one day of ten
        (budget,) = client.get("/v1/budgets", headers=dep.admin).json()["budgets"]
    assert [a.kind for a in _alerts(dep)] == ["budget_forecast"]
    assert budget["forecast"]["overrun"] is True
    assert Decimal(budget["forecast"]["low"]) > Decimal("0.01") > Decimal(budget["spent"])
