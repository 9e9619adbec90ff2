"""Ended local days (receipts.spend.local_days): made once from the buckets, read by day and
week queries in their zone, with exactly the answers the buckets give; asked for by the
first query, made under a lease, forgotten when the aggregates are rebuilt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receipts.spend import local_days, query, report
from receipts.spend.buckets import QUARTER_HOUR_MS, SpendDelta
from receipts.spend.local_runner import LocalDayRunner
from receipts.spend.query import SpendQuery, run
from receipts.spend.upsert_sql import SpendWriter
from receipts.storage.database import Database
from tests.receipts.conftest import BOTH_DATABASES, bare_database
from tests.receipts.spend.test_spend_properties import BYS, SPAN, START, database, ledgers

AFTER = START + SPAN + 3 * 86_400_000
"""A clock after every generated receipt's day has ended."""
ZONES = ["America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"]


def _store(db: Database, receipts: list[dict[str, Any]]) -> None:
    """Empty the aggregates (made days too), then write the receipts' buckets."""
    with db.write() as conn:
        conn.execute(sa.text("DELETE FROM receipts_spend_bucket"))
        conn.execute(sa.text("DELETE FROM receipts_spend_group"))
        local_days.forget_all(conn)
    with db.write() as conn:
        delta = SpendDelta()
        delta.extend(receipts)
        SpendWriter(conn.connection.driver_connection, db.is_sqlite).write(delta)


def _answer(db: Database, q: SpendQuery) -> tuple[dict[str, Any], int]:
    """The answer, and how many windows it read from made days."""
    used: list[int] = []
    real = query.statement

    def spy(*args: Any, **kwargs: Any) -> str:
        used.append(len(args[4]) if len(args) > 4 else len(kwargs.get("local", ())))
        return real(*args, **kwargs)

    with mock.patch.object(query, "statement", spy), db.read() as conn:
        periods, per_window, previous = run(conn, q)
    return report.answer(q, periods, per_window, previous), sum(used)


def _make_all(db: Database, zone: str, now: int = AFTER) -> int:
    made = 0
    with mock.patch.object(local_days, "now_ms", return_value=now):
        while (step := local_days.make_days(db, zone)) > 0:
            made += step
    return made


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(30), BYS, st.sampled_from(["day", "week"]), st.sampled_from(ZONES),
       st.sampled_from(["native", "reporting"]),
       st.integers(0, SPAN // QUARTER_HOUR_MS), st.integers(0, SPAN // QUARTER_HOUR_MS))
def test_made_days_answer_as_the_buckets_do(receipts: list[dict[str, Any]],
                                            by: tuple[str, ...], period: str, zone: str,
                                            currency: str, a: int, b: int) -> None:
    """Every field of every row (shares, averages, agents, previous cost) is the same once
    the days are made, for windows clipped or whole, across a daylight-saving change and in
    zones 30 and 45 minutes off the hour."""
    tz = ZoneInfo(zone)
    base = START - START % QUARTER_HOUR_MS
    q = SpendQuery(by, period, tz, base + min(a, b) * QUARTER_HOUR_MS,  # type: ignore[arg-type]
                   base + max(a, b) * QUARTER_HOUR_MS, None, currency)  # type: ignore[arg-type]
    with database() as db:
        _store(db, receipts)
        before, read_made = _answer(db, q)
        assert read_made == 0
        local_days.remember_zone(db, tz)
        _make_all(db, zone)
        after, read_made = _answer(db, q)
    assert after == before
    whole = len(before["rows"]) and max(a, b) - min(a, b) >= 2 * 96 * (7 if period == "week"
                                                                       else 1)
    if receipts and whole:
        assert read_made > 0


@pytest.fixture(params=BOTH_DATABASES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from bare_database(request, tmp_path)


def _receipt(at: int, agent: str, team: str, tokens: int) -> dict[str, Any]:
    return {"agent": agent, "provider": "openai", "model": "m1", "tags": {"team": team},
            "currency": "USD", "usage": {"input": tokens, "output": 1},
            "unit_prices": {"input": 3, "output": 5}, "cost": 3 * tokens + 5, "fx": None,
            "cost_reporting": None, "issued_at": at, "chain": "c0"}


def test_days_are_made_newest_first_and_only_once_ended(db: Database) -> None:
    """A pass makes the days that ended, the latest first, never the day under way (nor one
    ended less than the grace ago); the next pass goes on into history; the answers of a
    team's day-by-day query are the same throughout."""
    tz = ZoneInfo("America/New_York")
    day = 86_400_000
    receipts = [_receipt(START + i * 7 * 3_600_000, f"agt_{i % 3}", "ab"[i % 2], 10 + i)
                for i in range(120)]  # every 7 hours over 35 days
    _store(db, receipts)
    q = SpendQuery(("team",), "day", tz, START - START % day, START - START % day + 40 * day,
                   team="a")
    expected, _ = _answer(db, q)
    local_days.remember_zone(db, tz)
    last = receipts[-1]["issued_at"]
    with mock.patch.object(local_days, "now_ms", return_value=last), \
            mock.patch.object(local_days, "DAYS_PER_PASS", 10):
        assert local_days.make_days(db, "America/New_York") == 10
        with db.read() as conn:
            first, until = local_days.made_range(conn, "America/New_York") or (0, 0)
        assert until <= last - local_days.GRACE_MS and until > last - 2 * day
        assert first == until - 10 * day  # (no daylight-saving change in these days)
        assert _answer(db, q)[0] == expected
        while local_days.make_days(db, "America/New_York"):
            pass
    with db.read() as conn:
        first, until = local_days.made_range(conn, "America/New_York") or (0, 0)
    assert first <= START < first + day
    got, read_made = _answer(db, q)
    assert got == expected and read_made >= 30


def test_rebuilt_aggregates_forget_the_made_days(db: Database) -> None:
    _store(db, [_receipt(START, "agt_1", "a", 10)])
    local_days.remember_zone(db, ZoneInfo("Asia/Kolkata"))
    assert _make_all(db, "Asia/Kolkata") > 0
    with db.write() as conn:
        local_days.forget_all(conn)
    with db.read() as conn:
        assert local_days.made_range(conn, "Asia/Kolkata") is None
        assert local_days.zones(conn) == ["Asia/Kolkata"]
        assert conn.execute(sa.text("SELECT COUNT(*) FROM receipts_spend_local_day")).scalar() == 0


def test_one_runner_works_at_a_time(db: Database) -> None:
    _store(db, [_receipt(START, "agt_1", "a", 10)])
    local_days.remember_zone(db, ZoneInfo("Asia/Kolkata"))
    first, second = LocalDayRunner(db), LocalDayRunner(db)
    with mock.patch.object(local_days, "now_ms", return_value=AFTER):
        assert first.run_once() > 0
        assert second.run_once() == 0  # (the lease is the first one's)
    first.stop()
    with mock.patch.object(local_days, "now_ms", return_value=AFTER + 86_400_000):
        assert second.run_once() > 0  # (given up at stop: the rest, by the other)


def test_utc_and_unknown_zones_are_not_kept(db: Database) -> None:
    for tz in (None, ZoneInfo("UTC"), ZoneInfo("Etc/UTC")):
        local_days.remember_zone(db, tz)
    with db.read() as conn:
        assert local_days.zones(conn) == []
