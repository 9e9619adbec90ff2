"""Budget alerts: a threshold crossed, a limit reached under ``notify``, an overrun forecast.

Each is raised with ``alerts.store.raise_alert`` in the transaction that changed the counter,
with a dedup key naming the budget, the period start and the threshold (or ``forecast``), so a
crossing alerts once per period however many receipts, processes or retries see it.
"""

from __future__ import annotations

import threading
from typing import Any

from receipts.alerts.store import raise_alert
from receipts.budgets import counters
from receipts.budgets.counters import Counter
from receipts.budgets.definition import Budget, iso, money
from receipts.budgets.forecast import forecast
from receipts.budgets.raw import Raw

FORECAST_EVERY_MS = 60_000
"""How often one process re-forecasts one budget period from its daily rows while the point
projection is over the limit but the interval is not yet (the cheap check runs every time)."""
_forecast_memo: dict[tuple[str, int], int] = {}
_memo_lock = threading.Lock()


def _payload(budget: Budget, start: int, end: int, spent: int, currency: str | None,
             **extra: Any) -> dict[str, Any]:
    return {"budget": budget.name, "budget_id": budget.id, "scope": dict(budget.scope),
            "period": {"start": iso(start), "end": iso(end)}, "spent": money(spent),
            "limit": money(budget.limit), "currency": currency, **extra}


def threshold_crossings(raw: Raw, budget: Budget, start: int, counter: Counter, old_spent: int,
                        currency: str | None, at: int) -> None:
    """Alert each threshold that ``old_spent -> counter.spent`` reached for the first time
    (at creation ``old_spent`` is 0: thresholds already behind are alerted once)."""
    for t in budget.thresholds:
        if old_spent * 100 < t * budget.limit <= counter.spent * 100:
            raise_alert(raw.as_connection(), "budget_threshold", budget.scope_text(),
                        f"budget:{budget.id}:{start}:{t}",
                        _payload(budget, start, counter.period_end, counter.spent, currency,
                                 threshold=t), at=at)


def limit_reached(raw: Raw, budget: Budget, start: int, counter: Counter, estimate: int,
                  currency: str | None, at: int) -> None:
    """``notify`` budgets: a call allowed past the limit alerts once per period."""
    raise_alert(raw.as_connection(), "budget_limit", budget.scope_text(),
                f"budget:{budget.id}:{start}:limit",
                _payload(budget, start, counter.period_end, counter.spent, currency,
                         reserved=money(counter.reserved), estimate=money(estimate)), at=at)


def forecast_overrun(raw: Raw, budget: Budget, start: int, counter: Counter,
                     currency: str | None, now: int) -> None:
    """Alert once per period when the period-end projection's low end exceeds the limit while
    spend is still under it (so the warning comes before the thresholds do)."""
    if counter.spent >= budget.limit or counter.spent == 0:
        return
    elapsed, remaining = now - start, counter.period_end - now
    if elapsed <= 0 or remaining <= 0:
        return
    if counter.spent * (elapsed + remaining) <= budget.limit * elapsed:
        return  # the point projection is within the limit: so is the low end
    key = (budget.id, start)
    with _memo_lock:
        if now - _forecast_memo.get(key, -FORECAST_EVERY_MS) < FORECAST_EVERY_MS:
            return
        _forecast_memo[key] = now
    outlook = forecast(counter.spent, counters.days(raw, budget.id, start, counter.period_end),
                       start, counter.period_end, now)
    if outlook.overrun(budget.limit):
        raise_alert(raw.as_connection(), "budget_forecast", budget.scope_text(),
                    f"budget:{budget.id}:{start}:forecast",
                    _payload(budget, start, counter.period_end, counter.spent, currency,
                             forecast=forecast_json(outlook)), at=now)


def forecast_json(outlook: Any) -> dict[str, Any]:
    """A :class:`~receipts.budgets.forecast.Forecast` as the API shows it."""
    return {"projected": money(outlook.projected), "low": money(outlook.low),
            "high": money(outlook.high), "rate_per_day": money(outlook.rate_per_day),
            "days_observed": outlook.days_observed, "confidence": "0.95"}
