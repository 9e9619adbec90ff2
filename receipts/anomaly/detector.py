"""Spend anomaly detection: a pure, deterministic function over one scope's cost per minute.

The input is the scope's cost for each minute, in order (integers in the ledger's 10^-12 units;
0 for a minute without calls), the output the anomalies it raises. Nothing here reads a clock
or a database, so the service and ``bench/anomaly.py`` (a replayed 60-day trace) run the same
code on the same numbers and get the same answers.

Two statistics are checked every minute: the minute's own cost (a runaway loop shows in the
first full minute) and the cost of the trailing 60 minutes (a slower leak that no single
minute gives away). Each is compared with a threshold drawn from a baseline of past values of
the same statistic, recomputed at the start of every UTC hour from the history before it:

* **hour of week**, once the history holds ``seasonal_min_weeks`` weeks (default 2): the same
  hour of the week and the hours on either side, in each of the last ``seasonal_weeks`` weeks
  (default 4). Monday mornings are compared with Monday mornings.
* **hour of day**, once the history holds ``min_history_minutes`` (default 1 day): the same
  hour of the day and the hours on either side, in each of the days of the last
  ``window_minutes`` (default 7 days, or as many days as there are).
* **floor**, before that: the absolute thresholds ``short_floor_minute`` and
  ``short_floor_hour`` alone, since a few hours of history say nothing about normal spend.

A baseline's threshold is the largest of ``median + mad_k * 1.4826 * MAD`` (a robust spread: a
few extreme values move neither the median nor the MAD), a multiple of its ``quantile``
(``quantile_factor_minute``, 3, and ``quantile_factor_hour``, 2, times the 99th percentile:
busy minutes are normal, a multiple of them is not) and ``median + floor`` (an excess below the
absolute floor, 1 unit of the currency in a minute or 10 in an hour, is not worth waking anyone
for). Under the floor basis the thresholds are 10 units in a minute and 100 in an hour.

The first minute over a threshold opens an incident and raises one anomaly; the incident closes
after ``cooldown_minutes`` minutes without an exceedance. Minutes of an incident are left out
of later baselines' quantiles, so a runaway does not teach the detector that runaways are
normal (the median and MAD keep them: robust anyway, and a false alarm must not erase a normal
pattern from every later baseline). When most of a baseline's samples are masked, the pattern
repeats at that hour and is the norm: the quantile then takes them all.

Times are UTC; money is exact (integers, and thresholds computed with fractions then rounded
up). The floors are in units of the series' currency: set them for the deployment's scale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

MINUTES_PER_HOUR = 60
MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 10_080
HOURS_PER_WEEK = 168
UNIT = 10**12
"""Money in the ledger's unit: 10^-12 of the currency (costs are integers)."""
MAD_TO_SIGMA = Fraction(14826, 10000)
"""1.4826 * MAD estimates the standard deviation of normally distributed data."""

Horizon = Literal["minute", "hour"]
Basis = Literal["hour_of_week", "hour_of_day", "floor"]


@dataclass(frozen=True)
class DetectorConfig:
    """The detector's parameters (money in 10^-12 units; defaults documented above)."""

    window_minutes: int = 7 * MINUTES_PER_DAY
    min_history_minutes: int = MINUTES_PER_DAY
    seasonal_weeks: int = 4
    seasonal_min_weeks: int = 2
    mad_k: Fraction = Fraction(8)
    quantile: Fraction = Fraction(99, 100)
    quantile_factor_minute: Fraction = Fraction(3)
    quantile_factor_hour: Fraction = Fraction(2)
    floor_minute: int = 1 * UNIT
    floor_hour: int = 10 * UNIT
    short_floor_minute: int = 10 * UNIT
    short_floor_hour: int = 100 * UNIT
    cooldown_minutes: int = 30

    def __post_init__(self) -> None:
        if not 0 < self.quantile < 1:
            raise ValueError("quantile must be between 0 and 1")
        if min(self.window_minutes, self.seasonal_weeks, self.cooldown_minutes) < 1:
            raise ValueError("windows, weeks and cooldown must be positive")


@dataclass(frozen=True)
class Threshold:
    """What one statistic is compared with during one hour."""

    basis: Basis
    baseline: int
    """Median of the baseline samples (0 under the floor basis)."""
    limit: int
    """Values above this are anomalous."""


@dataclass(frozen=True)
class Anomaly:
    """The first minute of an incident: which statistic crossed which threshold."""

    minute: int
    """Absolute minute (minutes since 1970-01-01T00:00Z) of the minute that crossed."""
    horizon: Horizon
    spend: int
    """The statistic's value: the minute's cost, or the trailing 60 minutes' cost."""
    baseline: int
    threshold: int
    basis: Basis

    @property
    def factor(self) -> Fraction | None:
        """``spend / baseline``; None when the baseline is 0."""
        return Fraction(self.spend, self.baseline) if self.baseline else None


def _median(ordered: Sequence[int]) -> Fraction:
    n = len(ordered)
    mid = n // 2
    return Fraction(ordered[mid]) if n % 2 else Fraction(ordered[mid - 1] + ordered[mid], 2)


def _quantile(ordered: Sequence[int], q: Fraction) -> int:
    """The nearest-rank quantile (a value of the sample: exact, no interpolation)."""
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def threshold_of(samples: Sequence[int], quiet: Sequence[int], config: DetectorConfig,
                 floor: int, quantile_factor: Fraction, basis: Basis) -> Threshold:
    """The threshold a baseline gives (see the module's docstring).

    The median and MAD are taken over every sample (``samples``): robust, they are not moved
    by the minority of samples a past incident makes up, and keeping those samples means a
    false alarm cannot erase a normal pattern from later baselines. The quantile is taken over
    the samples outside incidents (``quiet``), since a long runaway would otherwise raise it
    for weeks; when fewer than half are, what was flagged keeps coming back at this hour: it
    is the pattern, and the quantile takes every sample.
    """
    ordered = sorted(samples)
    if not ordered:
        return Threshold("floor", 0, floor)
    med = _median(ordered)
    twice = int(2 * med)  # (a median is a value or the mean of two: twice it is an integer)
    mad = _median(sorted(abs(2 * x - twice) for x in ordered)) / 2
    spread = med + config.mad_k * MAD_TO_SIGMA * mad
    usable = sorted(quiet) if 2 * len(quiet) >= len(ordered) else ordered
    busy = quantile_factor * _quantile(usable, config.quantile)
    limit = max(spread, busy, med + floor)
    return Threshold(basis, math.floor(med), math.ceil(limit))


def hour_of_week(minute: int) -> int:
    """0 for Monday 00:00-00:59 UTC ... 167 for Sunday 23:00 (1970-01-01 was a Thursday)."""
    return ((minute // MINUTES_PER_HOUR) + 3 * 24) % HOURS_PER_WEEK


@dataclass
class Detector:
    """Feeds on one minute's cost at a time (:meth:`observe`); deterministic for a series.

    ``start_minute`` is the absolute minute of the first cost observed (it places the series
    in the week for the hour-of-week baseline).
    """

    start_minute: int
    config: DetectorConfig = field(default_factory=DetectorConfig)
    costs: list[int] = field(default_factory=list)
    _quiet: bytearray = field(default_factory=bytearray)
    """1 for a minute usable in baselines (not part of an incident)."""
    _trailing: int = 0
    _minute_limit: Threshold | None = None
    _hour_limit: Threshold | None = None
    _incident_quiet_for: int | None = None

    @property
    def now(self) -> int:
        """The absolute minute the next observation is for."""
        return self.start_minute + len(self.costs)

    def observe(self, cost: int) -> Anomaly | None:
        """Take the next minute's cost; the anomaly it starts, if any."""
        if cost < 0:
            raise ValueError("a minute's cost cannot be negative")
        minute = self.now
        if self._minute_limit is None or minute % MINUTES_PER_HOUR == 0:
            self._minute_limit, self._hour_limit = self._thresholds(minute)
        assert self._hour_limit is not None
        i = len(self.costs)
        self.costs.append(cost)
        self._trailing += cost
        if i >= MINUTES_PER_HOUR:
            self._trailing -= self.costs[i - MINUTES_PER_HOUR]
        crossed: tuple[Horizon, int, Threshold] | None = None
        if cost > self._minute_limit.limit:
            crossed = ("minute", cost, self._minute_limit)
        elif self._trailing > self._hour_limit.limit:
            crossed = ("hour", self._trailing, self._hour_limit)
        if crossed is None:
            self._quiet.append(self._incident_quiet_for is None)
            if self._incident_quiet_for is not None:
                self._incident_quiet_for += 1
                if self._incident_quiet_for >= self.config.cooldown_minutes:
                    self._incident_quiet_for = None
            return None
        horizon, spend, limit = crossed
        opened = self._incident_quiet_for is None
        self._quiet.append(False)
        self._incident_quiet_for = 0
        if not opened:
            return None
        return Anomaly(minute, horizon, spend, limit.baseline, limit.limit, limit.basis)

    def peek(self, cost: int) -> Anomaly | None:
        """The anomaly :meth:`observe` would start if the next minute's cost were ``cost``,
        without taking it. The service peeks at the minute still under way: its cost only
        grows, so an anomaly seen early is the one the full minute starts (same minute, same
        incident), and the alert need not wait for the minute to end."""
        if self._incident_quiet_for is not None:
            return None
        minute = self.now
        if self._minute_limit is None or minute % MINUTES_PER_HOUR == 0:
            minute_limit, hour_limit = self._thresholds(minute)
        else:
            assert self._hour_limit is not None
            minute_limit, hour_limit = self._minute_limit, self._hour_limit
        i = len(self.costs)
        trailing = self._trailing + cost
        if i >= MINUTES_PER_HOUR:
            trailing -= self.costs[i - MINUTES_PER_HOUR]
        if cost > minute_limit.limit:
            return Anomaly(minute, "minute", cost, minute_limit.baseline, minute_limit.limit,
                           minute_limit.basis)
        if trailing > hour_limit.limit:
            return Anomaly(minute, "hour", trailing, hour_limit.baseline, hour_limit.limit,
                           hour_limit.basis)
        return None

    def _hours_back(self, hour_start: int, period: int, periods: int) -> list[int]:
        """Indexes (into ``costs``) of the first minutes of the same hour and the hours on
        either side, one ``period`` (a day, a week) back, two back... ``periods`` back."""
        starts = []
        for back in range(1, periods + 1):
            for shift in (-1, 0, 1):
                first = hour_start - back * period + shift * MINUTES_PER_HOUR
                if first >= 0 and first + MINUTES_PER_HOUR <= hour_start:
                    starts.append(first)
        return starts

    def _thresholds(self, minute: int) -> tuple[Threshold, Threshold]:
        """The minute and hour thresholds for the hour starting at ``minute``."""
        c = self.config
        history = len(self.costs)
        if history < c.min_history_minutes:
            return (Threshold("floor", 0, c.short_floor_minute),
                    Threshold("floor", 0, c.short_floor_hour))
        if history >= c.seasonal_min_weeks * MINUTES_PER_WEEK:
            basis: Basis = "hour_of_week"
            starts = self._hours_back(history, MINUTES_PER_WEEK, c.seasonal_weeks)
        else:
            basis = "hour_of_day"
            starts = self._hours_back(history, MINUTES_PER_DAY,
                                      c.window_minutes // MINUTES_PER_DAY)
        minutes: list[int] = []
        quiet_minutes: list[int] = []
        hours: list[int] = []
        quiet_hours: list[int] = []
        quiet, costs = self._quiet, self.costs
        for s in starts:
            block = costs[s:s + MINUTES_PER_HOUR]
            minutes.extend(block)
            hours.append(sum(block))
            flags = quiet[s:s + MINUTES_PER_HOUR]
            if all(flags):
                quiet_minutes.extend(block)
                quiet_hours.append(hours[-1])
            else:
                quiet_minutes.extend(x for x, ok in zip(block, flags, strict=True) if ok)
        return (threshold_of(minutes, quiet_minutes, c, c.floor_minute,
                             c.quantile_factor_minute, basis),
                threshold_of(hours, quiet_hours, c, c.floor_hour, c.quantile_factor_hour,
                             basis))


def detect(costs: Iterable[int], start_minute: int,
           config: DetectorConfig | None = None) -> list[Anomaly]:
    """Every anomaly of a series of per-minute costs starting at ``start_minute``."""
    detector = Detector(start_minute, config or DetectorConfig())
    found = []
    for cost in costs:
        anomaly = detector.observe(cost)
        if anomaly is not None:
            found.append(anomaly)
    return found
