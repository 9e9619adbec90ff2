"""Anomaly detection on a replayed 60-day trace: precision, recall, median detection delay.

Generates (seeded, so every run replays the same trace) 60 days of per-minute spend for five
scopes with the patterns real traffic has: office hours and quiet nights, weekends, Monday
mornings at 2.2x, a nightly batch job, a sparse team that calls rarely, a product launch (2x
for two days, then 1.5x for good) and a busy day at 1.6x. Into it go runaway loops: agents
stuck calling a model, burning 1 to 10 units of the currency per minute (log-uniform; the top
is the "500 in an hour" of the issue) for 15 to 120 minutes, at any hour, including one on the
first day, before there is any history. The detector (``receipts.anomaly.detector``, default
configuration) then replays each scope minute by minute.

* an anomaly is a true positive when it falls in a loop of its scope (from its first minute to
  an hour after its last, while the trailing hour still holds it); any other is a false one;
* recall: loops with at least one anomaly; precision: true anomalies over all anomalies;
* delay: minutes from a loop's first minute to its first anomaly (0: raised on the loop's
  first minute, i.e. within 60 seconds of the receipts that make the spike).

Targets (issue 13): recall >= 0.95, precision >= 0.9.

    python bench/anomaly.py [--seed N] [--loops N] [--days N]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from receipts.anomaly.detector import (
    MINUTES_PER_DAY,
    UNIT,
    Anomaly,
    detect,
)

START = 29_439_360  # 2025-12-22T00:00Z, a Monday (absolute minute)
TAIL_MINUTES = 60
"""How long after a loop's last minute an anomaly still counts as that loop's."""


@dataclass(frozen=True)
class Scope:
    """One scope's traffic: units of the currency per minute, and the cost of a call."""

    name: str
    office: float
    night: float
    weekend: float
    call: float
    batch: float = 0.0
    """Units per minute of a nightly job, 02:00-02:59 UTC."""


SCOPES = (
    Scope("team=search", office=0.40, night=0.05, weekend=0.08, call=0.004),
    Scope("team=ranker", office=0.10, night=0.01, weekend=0.02, call=0.01),
    Scope("team=support", office=0.02, night=0.0, weekend=0.0, call=0.05),
    Scope("agent=nightly-etl", office=0.0, night=0.0, weekend=0.0, call=0.02, batch=1.0),
    Scope("project=assistant", office=0.80, night=0.30, weekend=0.40, call=0.003),
)


@dataclass(frozen=True)
class Loop:
    """An injected runaway loop."""

    scope: str
    start: int
    minutes: int
    rate: float

    @property
    def end(self) -> int:
        return self.start + self.minutes - 1


@dataclass
class Trace:
    """Per-minute costs (10^-12 units) per scope, and the loops injected into them."""

    costs: dict[str, list[int]] = field(default_factory=dict)
    loops: list[Loop] = field(default_factory=list)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _rate(scope: Scope, minute: int, day: int) -> float:
    """The scope's normal rate at an absolute minute (benign surges included)."""
    weekday = (minute // MINUTES_PER_DAY + 3) % 7  # 0 = Monday
    hour = minute % MINUTES_PER_DAY // 60
    if hour == 2 and scope.batch:
        return scope.batch
    if weekday >= 5:
        rate = scope.weekend if 9 <= hour < 18 else scope.night
    elif 8 <= hour < 18:
        rate = scope.office * (2.2 if weekday == 0 and hour < 11 else 1.0)
    elif hour in (7, 18):
        rate = (scope.office + scope.night) / 2
    else:
        rate = scope.night
    if scope.name == "team=ranker" and day >= 30:  # a launch: 2x for two days, then 1.5x
        launch = START + 30 * MINUTES_PER_DAY + 10 * 60
        if minute >= launch:
            rate *= 2.0 if minute < launch + 2 * MINUTES_PER_DAY else 1.5
    if scope.name == "team=search" and day == 45 and 8 <= hour < 18:  # a busy day
        rate *= 1.6
    return rate


def _loops(rng: random.Random, count: int, days: int) -> list[Loop]:
    loops = [Loop("team=search", START + 14 * 60, 60, 8.0)]  # on day 0: no history yet
    for _attempt in range(100 * count):
        if len(loops) >= count:
            break
        scope = rng.choice(SCOPES).name
        start = START + rng.randrange(MINUTES_PER_DAY + 60, (days - 1) * MINUTES_PER_DAY)
        loop = Loop(scope, start, rng.randint(15, 120), math.exp(rng.uniform(0, math.log(10))))
        if all(o.scope != scope or abs(o.start - start) > 6 * 60 for o in loops):
            loops.append(loop)
    return sorted(loops, key=lambda o: o.start)


def make_trace(seed: int, loop_count: int, days: int) -> Trace:
    """The seeded trace: every scope's normal traffic, plus the loops."""
    rng = random.Random(seed)
    trace = Trace(loops=_loops(rng, loop_count, days))
    for scope in SCOPES:
        series = []
        for i in range(days * MINUTES_PER_DAY):
            minute = START + i
            calls = _poisson(rng, _rate(scope, minute, i // MINUTES_PER_DAY) / scope.call)
            spend = scope.call * rng.gammavariate(2 * calls, 0.5) if calls else 0.0
            series.append(round(spend * UNIT))
        for loop in trace.loops:
            if loop.scope == scope.name:
                for m in range(loop.start, loop.end + 1):
                    series[m - START] += round(loop.rate * rng.gammavariate(20, 1 / 20) * UNIT)
        trace.costs[scope.name] = series
    return trace


def _matching(anomaly: Anomaly, scope: str, loops: list[Loop]) -> Loop | None:
    for loop in loops:
        if loop.scope == scope and loop.start <= anomaly.minute <= loop.end + TAIL_MINUTES:
            return loop
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--loops", type=int, default=40)
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()

    began = time.perf_counter()
    trace = make_trace(args.seed, args.loops, args.days)
    made = time.perf_counter()
    true_positives, false_positives = 0, []
    first_seen: dict[Loop, Anomaly] = {}
    minutes = 0
    for scope, series in trace.costs.items():
        minutes += len(series)
        for anomaly in detect(series, START):
            loop = _matching(anomaly, scope, trace.loops)
            if loop is None:
                false_positives.append((scope, anomaly))
                continue
            true_positives += 1
            first_seen.setdefault(loop, anomaly)
    ran = time.perf_counter() - made

    raised = true_positives + len(false_positives)
    recall = len(first_seen) / len(trace.loops)
    precision = true_positives / raised if raised else 1.0
    delays = sorted(a.minute - loop.start for loop, a in first_seen.items())
    print(f"trace: {args.days} days x {len(SCOPES)} scopes = {minutes:,} minutes (seed "
          f"{args.seed}), {len(trace.loops)} runaway loops; generated in {made - began:.1f} s")
    print(f"detector: {minutes / ran:,.0f} minutes/s ({ran:.1f} s)")
    print(f"anomalies raised: {raised} ({true_positives} in loops, {len(false_positives)} "
          "outside)")
    print(f"recall    {recall:.3f}  ({len(first_seen)}/{len(trace.loops)} loops detected; "
          "target >= 0.95)")
    print(f"precision {precision:.3f}  (target >= 0.9)")
    if delays:
        within = sum(d == 0 for d in delays)
        print(f"detection delay: median {statistics.median(delays):g} min, p90 "
              f"{delays[int(0.9 * (len(delays) - 1))]} min, max {delays[-1]} min; "
              f"{within}/{len(delays)} on the loop's first minute (within 60 s)")
    by_how: dict[tuple[str, str], int] = {}
    for a in first_seen.values():
        by_how[(a.horizon, a.basis)] = by_how.get((a.horizon, a.basis), 0) + 1
    print("first anomaly of each loop by statistic and baseline: " + ", ".join(
        f"{h}/{b} {n}" for (h, b), n in sorted(by_how.items())))
    for loop in trace.loops:
        if loop not in first_seen:
            day = (loop.start - START) / MINUTES_PER_DAY
            print(f"  missed: {loop.scope} day {day:.2f}, {loop.minutes} min at "
                  f"{loop.rate:.2f}/min")
    for scope, a in false_positives:
        day = (a.minute - START) / MINUTES_PER_DAY
        print(f"  outside any loop: {scope} day {day:.2f} {a.horizon}/{a.basis} spend "
              f"{a.spend / UNIT:.2f} baseline {a.baseline / UNIT:.2f} threshold "
              f"{a.threshold / UNIT:.2f}")


if __name__ == "__main__":
    main()
