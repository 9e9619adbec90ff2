"""What one receipt adds to the spend aggregates: its group and its bucket deltas.

Pure functions over a receipt payload (the map that is signed), used by the append transaction,
by the rebuild of an existing ledger's aggregates and by the benchmark, so every path makes the
same rows. Money is integer 10^-12 units throughout; a category's cost is
``usage[c] * unit_prices[c]`` (the terms of the receipt's ``cost``, spec §5.3) and its cost in
the reporting currency is that term converted with the receipt's own FX rate by the format's one
conversion rule (:func:`verifier.money.convert`): the terms are each rounded, so in the
reporting currency the categories may differ from ``cost_reporting`` by rounding.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from receipts.spend.tables import MAIN_CATEGORIES
from verifier.money import convert

QUARTER_HOUR_MS = 900_000
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
SPANS = (WEEK_MS, DAY_MS, QUARTER_HOUR_MS)
"""Every receipt is counted in one bucket of each span, so a query window is covered by whole
weeks in its middle, whole days, then quarter hours at its edges (any UTC offset in use today
is a whole number of quarter hours). No hour span: past a few receipts per quarter hour an
hour's rows are nearly as many as its four quarters' (each receipt of a busy ledger is mostly
the only one of its group in its quarter hour), so hours saved queries little and cost every
append a statement."""
MINUTE_MS = 60_000
"""The span of the anomaly detector's series (``receipts_spend_minute``): reporting cost only."""
MONDAY_MS = 4 * DAY_MS
"""Weeks start on Mondays (1970-01-05 was one), so UTC ISO weeks are whole buckets; the other
spans start at the epoch."""


def origin(span: int) -> int:
    """Where the grid of ``span``'s buckets starts."""
    return MONDAY_MS if span == WEEK_MS else 0


def bucket_start(span: int, at_ms: int) -> int:
    """The start of the bucket of ``span`` that holds ``at_ms``."""
    return at_ms - (at_ms - origin(span)) % span

TOTALS = ""
"""The category of a bucket's counts-and-totals row."""
LO_BITS = 40
LO_MOD = 1 << LO_BITS


@dataclass(frozen=True)
class GroupKey:
    """The fields of a receipt a spend query can group by (see :mod:`receipts.spend.tables`)."""

    agent: str
    provider: str
    model: str
    tags_json: str  # canonical: sorted keys, no spaces
    currency: str
    fx_currency: str | None
    retry: bool

    @property
    def id(self) -> int:
        """A stable id: the first 8 bytes of the SHA-256 of the key's canonical JSON, as a
        signed 64-bit integer (a BIGINT key: shorter and faster to index than text)."""
        text = json.dumps([self.agent, self.provider, self.model, self.tags_json, self.currency,
                           self.fx_currency, self.retry], separators=(",", ":"))
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)

    @property
    def team(self) -> str | None:
        """The receipt's ``team`` tag (what a team-scoped query filters on)."""
        team = json.loads(self.tags_json).get("team")
        return team if isinstance(team, str) else None


def group_of(payload: Mapping[str, Any]) -> GroupKey:
    """The group of a receipt payload."""
    fx = payload["fx"]
    return GroupKey(payload["agent"], payload["provider"], payload["model"],
                    json.dumps(payload["tags"], sort_keys=True, separators=(",", ":")),
                    payload["currency"], fx["currency"] if fx else None, "retry_of" in payload)


_known: dict[tuple[Any, ...], tuple[int, GroupKey]] = {}
"""Group ids by the raw fields they are made of (a writer sees the same groups again and
again; the canonical JSON and the hash are made once per group)."""


def _group_id(payload: Mapping[str, Any]) -> tuple[int, GroupKey]:
    fx = payload["fx"]
    raw = (payload["agent"], payload["provider"], payload["model"],
           tuple(sorted(payload["tags"].items())), payload["currency"],
           fx["currency"] if fx else None, "retry_of" in payload)
    found = _known.get(raw)
    if found is None:
        group = group_of(payload)
        found = (group.id, group)
        if len(_known) < 100_000:
            _known[raw] = found
    return found


BucketKey = tuple[int, int, int, str, str]
"""(span, start, group id, chain, category): a bucket row's primary key."""
Values = list[int]
"""A bucket row's values, money as whole integers: receipts, priced, priced_reporting,
tokens, cost, reporting, then (receipts, tokens, cost, reporting) of each main category
(:data:`receipts.spend.tables.BUCKET_VALUES` with each money pair as one number)."""
TOTAL_WIDTH = 6
SLOT_WIDTH = 4
SLOTS = {c: TOTAL_WIDTH + SLOT_WIDTH * i for i, c in enumerate(MAIN_CATEGORIES)}
"""Where each main category's numbers start in :data:`Values`."""
WIDTH = TOTAL_WIDTH + SLOT_WIDTH * len(MAIN_CATEGORIES)


_GRIDS = tuple((span, origin(span)) for span in SPANS)


def rows_of(payload: Mapping[str, Any]) -> list[tuple[str, Values]]:
    """What one receipt adds to each of its buckets: the main row ('') and one row per
    category outside :data:`MAIN_CATEGORIES`. A category's cost is its term of the receipt's
    ``cost``; in the reporting currency, that term converted with the receipt's rate."""
    cost, reporting, fx = payload["cost"], payload["cost_reporting"], payload["fx"]
    prices = payload["unit_prices"]
    main = [0] * WIDTH
    main[0], main[1], main[2] = 1, cost is not None, reporting is not None
    main[4], main[5] = cost or 0, reporting or 0
    out: list[tuple[str, Values]] = [(TOTALS, main)]
    for category, count in payload["usage"].items():
        term = count * prices[category] if cost is not None else 0
        converted = convert(term, fx["rate"]) if reporting is not None else 0
        at = SLOTS.get(category)
        if at is None:
            other = [0] * WIDTH
            other[0], other[3], other[4], other[5] = 1, count, term, converted
            out.append((category, other))
        else:
            main[at], main[at + 1], main[at + 2], main[at + 3] = 1, count, term, converted
    return out


@dataclass
class SpendDelta:
    """What a set of receipts adds to the aggregates: new groups, and totals per bucket row."""

    groups: dict[int, GroupKey] = field(default_factory=dict)
    rows: dict[BucketKey, Values] = field(default_factory=dict)
    minutes: dict[tuple[int, int, str], int] = field(default_factory=dict)
    """(minute number since the epoch, group id, chain): reporting cost (priced receipts)."""

    def add(self, payload: Mapping[str, Any]) -> None:
        """Account one receipt payload in every span."""
        gid, group = _group_id(payload)
        self.groups[gid] = group
        parts = rows_of(payload)
        issued_at, chain, rows = payload["issued_at"], payload["chain"], self.rows
        reporting = payload["cost_reporting"]
        if reporting:
            minute = (issued_at // MINUTE_MS, gid, chain)
            self.minutes[minute] = self.minutes.get(minute, 0) + reporting
        for span, base in _GRIDS:
            start = issued_at - (issued_at - base) % span  # bucket_start(span, issued_at)
            for category, values in parts:
                key = (span, start, gid, chain, category)
                row = rows.get(key)  # (value lists are never changed in place: shared)
                rows[key] = values if row is None else [
                    a + b for a, b in zip(row, values, strict=True)]

    def extend(self, payloads: Iterable[Mapping[str, Any]]) -> None:
        """Account several receipts."""
        for payload in payloads:
            self.add(payload)


def split(amount: int) -> tuple[int, int]:
    """``amount`` as (hi, lo) with ``amount = hi * 2^40 + lo``, ``0 <= lo < 2^40``."""
    return amount >> LO_BITS, amount & (LO_MOD - 1)


def joined(hi: int | None, lo: int | None) -> int:
    """The amount of summed (hi, lo) columns (SQL sums come back as int or Decimal)."""
    return (int(hi or 0) << LO_BITS) + int(lo or 0)
