"""Period-end projection of a budget's spend from its burn rate, with a 95% interval.

A pure function of the spend so far and the spend per UTC day, so it can be tested (and
replayed) without a database. The model: the rest of the period burns at the period's average
rate so far (spent / elapsed); the days ahead vary around it as the complete days so far did
(their sample standard deviation ``s``), independently, so the remaining ``R`` days add
``1.96 * s * sqrt(R)`` either side. With fewer than two complete days there is no spread to
measure and ``s`` is taken as the daily rate itself (a coefficient of variation of 1): the
interval is wide until the data narrows it. The low end never falls below what is already
spent. An overrun is *predicted* when even the low end exceeds the limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext

DAY_MS = 86_400_000
Z95 = Decimal("1.96")


@dataclass(frozen=True)
class Forecast:
    """Projected period-end spend and its 95% interval, in 10^-12 units."""

    projected: int
    low: int
    high: int
    rate_per_day: int
    days_observed: int

    def overrun(self, limit: int) -> bool:
        """Whether even the low end of the interval is over ``limit``."""
        return self.low > limit


def day_of(ms: int) -> int:
    """The start of the UTC day containing ``ms``."""
    return ms - ms % DAY_MS


def forecast(spent: int, days: Mapping[int, int], start: int, end: int, now: int) -> Forecast:
    """The projection at ``now`` for a period [start, end) with ``spent`` so far and spend per
    day (keys are UTC day starts; a day absent spent nothing)."""
    if now >= end:
        return Forecast(spent, spent, spent, 0, 0)
    elapsed = max(now - start, 0)
    if elapsed == 0 or spent == 0:
        return Forecast(spent, spent, spent, 0, 0)
    with localcontext() as ctx:
        ctx.prec = 50
        per_day = Decimal(spent * DAY_MS) / elapsed
        remaining = Decimal(end - now)
        projected = Decimal(spent * (elapsed + end - now)) / elapsed
        first = max(day_of(start) + (DAY_MS if start % DAY_MS else 0), start)
        complete = [days.get(d, 0) for d in range(first, day_of(now), DAY_MS)
                    if d + DAY_MS <= now]
        n = len(complete)
        if n >= 2:
            mean = Decimal(sum(complete)) / n
            s = (sum((Decimal(b) - mean) ** 2 for b in complete) / Decimal(n - 1)).sqrt()
        else:
            s = per_day
        margin = Z95 * s * (remaining / DAY_MS).sqrt()
        low = max(Decimal(spent), projected - margin)
        high = projected + margin
        return Forecast(_units(projected), _units(low), _units(high), _units(per_day), n)


def _units(amount: Decimal) -> int:
    """To whole 10^-12 units, half to even (as every amount in the ledger is rounded)."""
    return int(amount.to_integral_value())
