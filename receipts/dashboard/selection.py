"""What a page shows: the month, the currency, the daily chart's stacking and the drill path,
read from the query string (never the token: it is not in any URL)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import Request

from receipts.errors import FieldProblem, Invalid

STACK_CHOICES = ("team", "provider", "model")
DRILL = ("team", "project", "model", "agent")
"""The drill-down path: each level groups the spend of the one above by the next name."""
MISSING = ""
"""A drill value for "no such tag" (an empty tag value counts as missing, spec §8)."""
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _utc_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


@dataclass(frozen=True)
class Selection:
    """The page's parameters, validated."""

    month: str
    currency_mode: str
    stack: str
    path: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, request: Request) -> Selection:
        """Read and check the query string (422 naming the parameter)."""
        params = request.query_params
        month = params.get("month") or dt.datetime.now(dt.UTC).strftime("%Y-%m")
        if not MONTH.match(month):
            raise Invalid("month must be YYYY-MM", [FieldProblem("month", "not YYYY-MM")])
        currency = params.get("currency", "reporting")
        if currency not in ("reporting", "native"):
            raise Invalid("currency must be reporting or native",
                          [FieldProblem("currency", "not reporting or native")])
        stack = params.get("stack", STACK_CHOICES[0])
        if stack not in STACK_CHOICES:
            raise Invalid(f"stack must be one of {', '.join(STACK_CHOICES)}",
                          [FieldProblem("stack", "unknown")])
        path: list[tuple[str, str]] = []
        for name in DRILL:
            if name not in params:
                break
            path.append((name, params[name]))
        return cls(month, currency, stack, tuple(path))

    @property
    def first_day(self) -> dt.date:
        """The month's first day."""
        return dt.date(int(self.month[:4]), int(self.month[5:]), 1)

    @property
    def next_first_day(self) -> dt.date:
        """The next month's first day."""
        first = self.first_day
        return dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)

    @property
    def previous_month(self) -> str:
        """``YYYY-MM`` of the month before."""
        before = self.first_day - dt.timedelta(days=1)
        return before.strftime("%Y-%m")

    @property
    def since(self) -> int:
        """Start of the month, epoch ms (UTC)."""
        return _utc_ms(self.first_day)

    @property
    def until(self) -> int:
        """End of the month (exclusive), epoch ms (UTC)."""
        return _utc_ms(self.next_first_day)

    def days(self) -> list[str]:
        """Every day of the month, ``YYYY-MM-DD``."""
        day, out = self.first_day, []
        while day < self.next_first_day:
            out.append(day.isoformat())
            day += dt.timedelta(days=1)
        return out

    def keep(self) -> dict[str, str]:
        """The drill path, kept when the filter form is submitted."""
        return dict(self.path)

    def query(self, **extra: str) -> str:
        """The query string of this selection (plus ``extra``) for links."""
        base = {"month": self.month, "currency": self.currency_mode, "stack": self.stack}
        return urlencode({**base, **dict(self.path), **extra})
