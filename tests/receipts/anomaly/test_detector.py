"""The anomaly detector as a pure function over per-minute costs (exact integers)."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from receipts.anomaly.detector import (
    MINUTES_PER_DAY,
    MINUTES_PER_WEEK,
    UNIT,
    Detector,
    DetectorConfig,
    detect,
    hour_of_week,
    threshold_of,
)

MONDAY = 29_439_360  # 2025-12-22T00:00Z (absolute minute)
CENT = UNIT // 100


def office(days: int, seed: int = 1, monday_surge: float = 1.0) -> list[int]:
    """Busy office hours (about 0.40 a minute), quiet nights (0.05), quieter weekends."""
    rng = random.Random(seed)
    series = []
    for i in range(days * MINUTES_PER_DAY):
        weekday, hour = (i // MINUTES_PER_DAY) % 7, i % MINUTES_PER_DAY // 60
        rate = 40 if weekday < 5 and 8 <= hour < 18 else 5
        if weekday == 0 and 8 <= hour < 11:
            rate = round(rate * monday_surge)
        series.append(rng.randint(rate // 2, rate * 3 // 2) * CENT)
    return series


def test_hour_of_week_starts_on_monday_utc() -> None:
    assert hour_of_week(MONDAY) == 0 and hour_of_week(MONDAY + 59) == 0
    assert hour_of_week(MONDAY + 60) == 1 and hour_of_week(MONDAY - 1) == 167
    assert hour_of_week(0) == 72  # 1970-01-01 00:00 was a Thursday


def test_threshold_is_exact_and_the_largest_of_its_three_rules() -> None:
    config = DetectorConfig()
    samples = [10, 10, 11, 12, 13, 100]  # one outlier moves neither median nor MAD
    t = threshold_of(samples, samples, config, floor=0, quantile_factor=Fraction(3),
                     basis="hour_of_day")
    # median 11.5, MAD 1.5: 11.5 + 8 * 1.4826 * 1.5 = 29.2912; 3 * q99 (100) = 300
    assert (t.baseline, t.limit) == (11, 300)
    quiet = samples[:-1]  # the outlier was part of an incident: the quantile leaves it out
    t = threshold_of(samples, quiet, config, floor=0, quantile_factor=Fraction(1),
                     basis="hour_of_day")
    assert t.limit == 30  # ceil(29.2912), above 1 * q99 of the quiet samples (13)
    t = threshold_of(samples, quiet, config, floor=50, quantile_factor=Fraction(1),
                     basis="hour_of_day")
    assert t.limit == 62  # ceil(11.5 + 50)
    assert threshold_of([], [], config, 7, Fraction(1), "hour_of_day").limit == 7


def test_normal_traffic_raises_nothing_for_three_weeks() -> None:
    assert detect(office(21), MONDAY) == []


def test_a_runaway_is_raised_on_its_first_minute_with_its_baseline() -> None:
    series = office(9)
    start = 8 * MINUTES_PER_DAY + 3 * 60  # Tuesday 03:00, a quiet hour
    for i in range(start, start + 45):
        series[i] += 3 * UNIT
    (anomaly,) = detect(series, MONDAY)
    assert anomaly.minute == MONDAY + start and anomaly.horizon == "minute"
    assert anomaly.basis == "hour_of_day" and anomaly.spend == series[start]
    assert anomaly.baseline <= 10 * CENT < anomaly.threshold < anomaly.spend
    assert anomaly.factor is not None and anomaly.factor > 30


def test_a_slow_leak_is_caught_by_the_trailing_hour() -> None:
    series = office(9)
    start = 8 * MINUTES_PER_DAY + 2 * 60
    for i in range(start, start + 120):
        series[i] += 40 * CENT  # each minute plausible on its own, the hour is not
    (anomaly,) = detect(series, MONDAY)
    assert anomaly.horizon == "hour" and start < anomaly.minute - MONDAY < start + 60


def test_first_day_uses_the_absolute_floor_only() -> None:
    config = DetectorConfig()
    series = [5 * CENT] * 600
    series[300] = config.short_floor_minute  # at the floor: not above it
    series[400] = config.short_floor_minute + 1
    (anomaly,) = detect(series, MONDAY, config)
    assert (anomaly.minute, anomaly.basis, anomaly.threshold) == (
        MONDAY + 400, "floor", config.short_floor_minute)


def test_monday_mornings_become_normal_with_an_hour_of_week_baseline() -> None:
    series = office(29, monday_surge=2.5)
    found = detect(series, MONDAY)
    assert all(a.minute - MONDAY < 2 * MINUTES_PER_WEEK for a in found)  # learnt by week 3
    series[4 * MINUTES_PER_WEEK + 9 * 60 + 5] += 4 * UNIT  # a spike on a Monday morning
    (late,) = [a for a in detect(series, MONDAY) if a.minute - MONDAY >= 2 * MINUTES_PER_WEEK]
    assert late.minute == MONDAY + 4 * MINUTES_PER_WEEK + 9 * 60 + 5
    assert late.basis == "hour_of_week"


def test_one_anomaly_per_incident_and_a_new_one_after_the_cooldown() -> None:
    config = DetectorConfig(cooldown_minutes=30)
    series = office(3)
    base = 2 * MINUTES_PER_DAY + 3 * 60
    for i in (*range(base, base + 10), *range(base + 20, base + 25),   # one incident
              *range(base + 200, base + 205)):                          # a second one
        series[i] += 5 * UNIT
    found = detect(series, MONDAY, config)
    # (the first incident lasts while its trailing hour is high, then 30 quiet minutes)
    assert [a.minute - MONDAY for a in found] == [base, base + 200]


def test_a_runaway_does_not_teach_the_baseline_that_runaways_are_normal() -> None:
    series = office(30)
    for week in (2, 3):  # the same hour, two weeks running: three hours each time
        start = week * MINUTES_PER_WEEK + 2 * MINUTES_PER_DAY + 14 * 60
        for i in range(start, start + 180):
            series[i] += 2 * UNIT
    found = detect(series, MONDAY)
    assert [(a.minute - MONDAY) // MINUTES_PER_WEEK for a in found] == [2, 3]


def test_pure_and_deterministic() -> None:
    series = office(4, seed=7)
    series[3 * MINUTES_PER_DAY + 100] += 20 * UNIT
    assert detect(series, MONDAY) == detect(list(series), MONDAY)
    detector = Detector(MONDAY)
    with pytest.raises(ValueError):
        detector.observe(-1)
    with pytest.raises(ValueError):
        DetectorConfig(quantile=Fraction(1))
