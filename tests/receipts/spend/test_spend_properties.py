"""Property: spend summed from the aggregates equals a direct recomputation over the same
receipts (``receipt rollup``'s own code for days and months, a plain loop for weeks, quarters
and time zones), whatever the receipts, costs past 64 bits included."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receipts.budgets.periods import local_window, period_label
from receipts.spend import local_days, report
from receipts.spend.buckets import QUARTER_HOUR_MS, SpendDelta, bucket_start, joined, split
from receipts.spend.cover import cover, signed_cover
from receipts.spend.query import SpendQuery, run
from receipts.spend.upsert_sql import SpendWriter
from receipts.storage.database import Database
from verifier.money import COST_SCALE, convert, format_amount
from verifier.rollup import Rollup, RollupSpec
from verifier.rollup_view import rows_json

START = 1_806_000_000_000  # 2027-03-24
SPAN = 40 * 86_400_000  # across the end of March (a month, a quarter) and a DST change
CATEGORIES = ("input", "output", "cache_read")


@st.composite
def groups(draw: st.DrawFn) -> dict[str, Any]:
    """The fields that make a receipt's group."""
    fields: dict[str, Any] = {
        "agent": draw(st.sampled_from(("agt_1", "agt_2", "agt_3"))),
        "provider": draw(st.sampled_from(("openai", "anthropic"))),
        "model": draw(st.sampled_from(("m1", "m2"))),
        "tags": draw(st.dictionaries(st.sampled_from(("team", "project", "cost_center")),
                                     st.sampled_from(("a", "b", "", "(unattributed)")),
                                     max_size=3)),
        "currency": draw(st.sampled_from(("USD", "EUR"))),
        "fx": draw(st.booleans()), "retry": draw(st.integers(0, 4)) == 0,
    }
    return fields


@st.composite
def payload(draw: st.DrawFn, group: dict[str, Any], near: int) -> dict[str, Any]:
    usage = draw(st.dictionaries(st.sampled_from(CATEGORIES),
                                 st.integers(0, 1_000_000_000), min_size=1, max_size=3))
    priced = draw(st.booleans()) or draw(st.booleans())
    prices = {c: draw(st.integers(0, 10**10)) for c in usage} if priced else {}
    cost = sum(usage[c] * prices[c] for c in usage) if priced else None
    rate = draw(st.integers(1, 10**10))
    fx = {"currency": "GBP", "rate": rate, "date": "x", "source": "s"} if group["fx"] else None
    at = near + draw(st.integers(0, 2 * QUARTER_HOUR_MS)) if draw(st.booleans()) \
        else START + draw(st.integers(0, SPAN))
    out: dict[str, Any] = {
        "agent": group["agent"], "provider": group["provider"], "model": group["model"],
        "tags": group["tags"], "currency": group["currency"], "usage": usage,
        "unit_prices": prices, "cost": cost, "fx": fx,
        "cost_reporting": convert(cost, rate) if cost is not None and fx else None,
        "issued_at": at, "chain": draw(st.sampled_from(("c0", "c1"))),
    }
    if group["retry"]:
        out["retry_of"] = "earlier"
    return out


@st.composite
def ledgers(draw: st.DrawFn, max_size: int) -> list[dict[str, Any]]:
    """Receipts of a few groups, many of them close in time (so that successive appends
    update the same buckets)."""
    pool = draw(st.lists(groups(), min_size=1, max_size=4))
    near = START + draw(st.integers(0, SPAN))
    n = draw(st.integers(0, max_size))
    return [draw(payload(draw(st.sampled_from(pool)), near)) for _ in range(n)]


_DATABASES: list[Database] = []


@contextmanager
def database() -> Iterator[Database]:
    """One SQLite database for every example (each example empties it first)."""
    if not _DATABASES:
        tmp = tempfile.mkdtemp(prefix="spend-properties-")
        atexit.register(shutil.rmtree, tmp, True)
        db = Database(f"sqlite:///{Path(tmp) / 'spend.db'}")
        db.create_schema()
        atexit.register(db.dispose)
        _DATABASES.append(db)
    yield _DATABASES[0]


def _store(db: Database, receipts: list[dict[str, Any]], groups: int) -> None:
    """Write the receipts' deltas in ``groups`` transactions, as successive appends would."""
    with db.write() as conn:
        conn.execute(sa.text("DELETE FROM receipts_spend_bucket"))
        conn.execute(sa.text("DELETE FROM receipts_spend_group"))
        local_days.forget_all(conn)  # (made from buckets now gone: test_local_days)
    size = max(1, len(receipts) // groups)
    for start in range(0, len(receipts), size):
        with db.write() as conn:
            writer = SpendWriter(conn.connection.driver_connection, True)
            delta = SpendDelta()
            delta.extend(receipts[start:start + size])
            writer.write(delta)


def _answer(db: Database, q: SpendQuery) -> dict[str, Any]:
    with db.read() as conn:
        periods, per_window, previous = run(conn, q)
    return report.answer(q, periods, per_window, previous)


FIELDS = ("period", "currency", "receipts", "unpriced", "retries", "cost", "tokens")
BYS = st.sampled_from([("team",), ("team", "project"), ("provider", "model"), ("agent",),
                       ("cost_center", "team", "model")])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(40), BYS, st.sampled_from([None, "day", "month"]),
       st.sampled_from(["native", "reporting"]), st.integers(1, 8))
def test_aggregates_equal_the_rollup(receipts: list[dict[str, Any]], by: tuple[str, ...],
                                     period: str | None, currency: str, groups: int) -> None:
    rollup = Rollup(RollupSpec(by, period, currency))
    for receipt in receipts:
        rollup.add(receipt)
    with database() as db:
        _store(db, receipts, groups)
        got = _answer(db, SpendQuery(by, period, None, None, None, None, currency))  # type: ignore[arg-type]
    rows = [{k: row[k] for k in (*by, *FIELDS) if k in row} for row in got["rows"]]
    assert rows == rows_json(rollup)


def _direct(receipts: list[dict[str, Any]], by: tuple[str, ...], period: str, tz: ZoneInfo,
            since: int, until: int) -> dict[tuple[Any, ...], tuple[int, int | None, int, int]]:
    """(by values, period, currency) -> (receipts, native cost or None, input tokens, distinct
    agents)."""
    out: dict[tuple[Any, ...], list[Any]] = {}
    for r in receipts:
        if not since <= r["issued_at"] < until:
            continue
        start = local_window(period, r["issued_at"], tz)  # type: ignore[arg-type]
        key = (*[(r[n] if n in ("provider", "model", "agent") else r["tags"].get(n)) or None
                 for n in by], period_label(period, start[0], tz), r["currency"])  # type: ignore[arg-type]
        acc = out.setdefault(key, [0, None, 0, set()])
        acc[0] += 1
        if r["cost"] is not None:
            acc[1] = (acc[1] or 0) + r["cost"]
        acc[2] += r["usage"].get("input", 0)
        acc[3].add(r["agent"])
    return {k: (v[0], v[1], v[2], len(v[3])) for k, v in out.items()}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers(30), BYS, st.sampled_from(["day", "week", "quarter"]),
       st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu"]),
       st.integers(0, SPAN // QUARTER_HOUR_MS), st.integers(0, SPAN // QUARTER_HOUR_MS))
def test_weeks_quarters_and_time_zones_equal_a_direct_sum(
        receipts: list[dict[str, Any]], by: tuple[str, ...], period: str, zone: str,
        a: int, b: int) -> None:
    tz = ZoneInfo(zone)
    since = START - START % QUARTER_HOUR_MS + min(a, b) * QUARTER_HOUR_MS
    until = START - START % QUARTER_HOUR_MS + max(a, b) * QUARTER_HOUR_MS
    with database() as db:
        _store(db, receipts, 2)
        got = _answer(db, SpendQuery(by, period, tz, since, until, None, "native"))  # type: ignore[arg-type]
    rows = {(*[row[n] for n in by], row["period"], row["currency"]):
            (row["receipts"], row["cost"], row["tokens"].get("input", 0), row["agents"])
            for row in got["rows"]}
    expected = {k: (n, None if c is None else format_amount(c, COST_SCALE), t, a)
                for k, (n, c, t, a) in _direct(receipts, by, period, tz, since, until).items()}
    assert rows == expected


@given(st.integers(0, 2**70))
def test_money_halves_join_back(amount: int) -> None:
    hi, lo = split(amount)
    assert 0 <= lo < 2**40 and joined(hi, lo) == amount


@given(st.integers(0, 10**13 // QUARTER_HOUR_MS), st.integers(0, 400 * 96))
def test_cover_tiles_a_window_with_whole_buckets(a: int, length: int) -> None:
    start, end = a * QUARTER_HOUR_MS, (a + length) * QUARTER_HOUR_MS
    position = start
    for span, lo, hi in sorted(cover(start, end), key=lambda piece: piece[1]):
        assert lo == position < hi
        assert bucket_start(span, lo) == lo and bucket_start(span, hi) == hi
        position = hi
    assert position == end


def test_a_subtracted_edge_leaves_nothing_of_its_receipts() -> None:
    """[04:00, 04:00 the next day) is that UTC day minus its first 4 hours plus the next day's:
    a receipt in the part taken away counts nowhere, not even among the distinct agents."""
    day = START - START % 86_400_000
    hour = 3_600_000
    base = {"provider": "openai", "model": "m1", "tags": {"team": "a"}, "currency": "USD",
            "usage": {"input": 10, "cache_read": 0}, "unit_prices": {"input": 7, "cache_read": 1},
            "cost": 70, "fx": None, "cost_reporting": None, "chain": "c0"}
    receipts = [{**base, "agent": "agt_early", "issued_at": day + 2 * hour},
                {**base, "agent": "agt_kept", "issued_at": day + 10 * hour},
                {**base, "agent": "agt_kept", "issued_at": day + 26 * hour}]
    assert sorted(sign for _, sign in signed_cover(day + 4 * hour, day + 28 * hour)) == [-1, 1, 1]
    with database() as db:
        _store(db, receipts, 1)
        got = _answer(db, SpendQuery(("team",), None, None, day + 4 * hour, day + 28 * hour,
                                     currency="native"))
    assert [(r["receipts"], r["agents"], r["cost"], r["tokens"]) for r in got["rows"]] == [
        (2, 1, format_amount(140, COST_SCALE), {"cache_read": 0, "input": 20})]
