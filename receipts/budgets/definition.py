"""What a budget is: a scope of receipts, a period, a limit, thresholds and what happens at it.

One parser for every way a budget arrives (``POST /v1/budgets``, ``receipt budget set``), so
both refuse the same input with the same field names. Money is integer 10^-12 units of the
reporting currency (the unit of ``cost_reporting``), parsed and printed by the format core's
own functions.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from receipts.api.tag_keys import TAG_KEY_RULE, is_tag_key
from receipts.budgets.periods import Calendar, calendar_window
from receipts.errors import FieldProblem, Invalid
from verifier.jsonview import iso_ms
from verifier.money import COST_SCALE, format_amount, parse_amount

AtLimit = Literal["notify", "approve", "deny"]
AT_LIMIT: tuple[AtLimit, ...] = ("notify", "approve", "deny")
CALENDARS: tuple[Calendar, ...] = ("week", "month", "quarter")
RECEIPT_FIELDS = ("agent", "provider", "model")
"""Scope keys that name a receipt field rather than a tag (``agent`` is the agent id; provider
and model are the billed ones, as in the receipt and in rollups)."""
MAX_LIMIT = 10**15 * 10**COST_SCALE
"""A quadrillion currency units: far beyond any budget, and a bound on what input can ask."""
DEFAULT_THRESHOLDS = (50, 80, 100)
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
MAX_SCOPE_KEYS = 16


_LAST_WINDOW: dict[str, tuple[int, int]] = {}
"""The last window computed per calendar period (periods are the same for every budget)."""


@dataclass(frozen=True)
class Budget:
    """A stored budget. ``period`` is a calendar name or a fixed ``(from, until)`` in ms."""

    id: str
    name: str
    scope: Mapping[str, str]
    period: Calendar | tuple[int, int]
    limit: int
    thresholds: tuple[int, ...]
    at_limit: AtLimit
    created_at: int

    def window(self, at_ms: int) -> tuple[int, int] | None:
        """The [start, end) period containing ``at_ms`` (None outside a fixed window)."""
        if isinstance(self.period, tuple):
            start, end = self.period
            return (start, end) if start <= at_ms < end else None
        last = _LAST_WINDOW.get(self.period)
        if last is not None and last[0] <= at_ms < last[1]:
            return last  # (every call of a group asks about nearly the same instant)
        window = _LAST_WINDOW[self.period] = calendar_window(self.period, at_ms)
        return window

    def covers(self, agent: str, provider: str, model: str, tags: Mapping[str, str]) -> bool:
        """Whether a receipt (or a call about to be made) with these fields is in scope."""
        for key, wanted in self.scope.items():
            if key == "agent":
                have: str | None = agent
            elif key == "provider":
                have = provider
            elif key == "model":
                have = model
            else:
                have = tags.get(key)
            if have != wanted:
                return False
        return True

    def scope_text(self) -> str:
        """``team=search,project=ranker`` (everything: ``*``)."""
        return ",".join(f"{k}={v}" for k, v in sorted(self.scope.items())) or "*"

    def period_json(self) -> Any:
        """The period as the API shows it."""
        if isinstance(self.period, tuple):
            return {"from": iso(self.period[0]), "until": iso(self.period[1])}
        return self.period

    def definition_json(self) -> dict[str, Any]:
        """The definition as the API shows it (limit as a decimal string)."""
        return {"id": self.id, "name": self.name, "scope": dict(self.scope),
                "period": self.period_json(), "limit": money(self.limit),
                "thresholds": list(self.thresholds), "at_limit": self.at_limit,
                "created_at": iso(self.created_at)}


@lru_cache(maxsize=4096)
def money(units: int) -> str:
    """10^-12 units as the API's decimal string (remembered: most answers repeat a few)."""
    return format_amount(units, COST_SCALE)


def iso(ms: int) -> str:
    """Milliseconds as RFC 3339 UTC, as receipts show times (``2026-03-01T00:00:00.000Z``)."""
    return iso_ms(ms)


def parse_time(value: Any, field: str) -> int:
    """An RFC 3339 time with an offset, as epoch milliseconds (422 naming ``field``)."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be an RFC 3339 time",
                      [FieldProblem(field, "must be an RFC 3339 time string")])
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{field} is not an RFC 3339 time", [FieldProblem(
            field, "not an RFC 3339 time (e.g. 2026-03-01T00:00:00Z)")]) from None
    if moment.tzinfo is None:
        raise Invalid(f"{field} has no UTC offset", [FieldProblem(
            field, "needs a UTC offset (Z or +hh:mm)")])
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)


def parse_money(value: Any, field: str, *, positive: bool = True) -> int:
    """A decimal string (at most 12 decimals) as 10^-12 units (422 naming ``field``)."""
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise Invalid(f"{field} must be a decimal string", [FieldProblem(
            field, "must be a decimal string such as \"15000\" or \"0.25\" (never a JSON "
                   "number, no exponent)")])
    try:
        units = parse_amount(value.strip(), COST_SCALE)
    except (ValueError, ArithmeticError):
        raise Invalid(f"{field} is not a decimal amount", [FieldProblem(
            field, "not a decimal amount with at most 12 decimals")]) from None
    if units < 0 or (positive and units == 0) or units > MAX_LIMIT:
        raise Invalid(f"{field} out of range", [FieldProblem(
            field, ("must be more than 0" if positive else "must not be negative")
            + f" and at most {money(MAX_LIMIT)}")])
    return units


def _scope(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise Invalid("scope must be an object", [FieldProblem(
            "scope", "must be an object of tag (or agent, provider, model) names to values")])
    if len(value) > MAX_SCOPE_KEYS:
        raise Invalid("scope too large", [FieldProblem(
            "scope", f"at most {MAX_SCOPE_KEYS} keys")])
    problems = []
    for key, wanted in value.items():
        if key not in RECEIPT_FIELDS and not is_tag_key(key):
            problems.append(FieldProblem(f"scope.{key}", f"a tag name must be {TAG_KEY_RULE}, "
                                         "or agent, provider, model"))
        elif not isinstance(wanted, str) or not 1 <= len(wanted) <= 256 or "\x00" in wanted:
            problems.append(FieldProblem(f"scope.{key}", "must be text of 1..256 characters "
                                         "without NUL"))
    if problems:
        raise Invalid("invalid scope", problems)
    return dict(value)


def _period(value: Any) -> Calendar | tuple[int, int]:
    if isinstance(value, str) and value in CALENDARS:
        return value
    if isinstance(value, dict) and set(value) == {"from", "until"}:
        start = parse_time(value["from"], "period.from")
        end = parse_time(value["until"], "period.until")
        if end <= start:
            raise Invalid("period.until must be after period.from", [FieldProblem(
                "period.until", "must be after period.from")])
        return (start, end)
    raise Invalid("invalid period", [FieldProblem(
        "period", "must be week, month, quarter or {\"from\": time, \"until\": time}")])


def _thresholds(value: Any) -> tuple[int, ...]:
    if value is None:
        return DEFAULT_THRESHOLDS
    if not isinstance(value, list) or len(value) > 10 or not all(
            type(t) is int and 1 <= t <= 1000 for t in value):
        raise Invalid("invalid thresholds", [FieldProblem(
            "thresholds", "must be a list of at most 10 integer percentages of the limit, "
                          "1..1000")])
    return tuple(sorted(set(value)))


def parse_budget(body: Mapping[str, Any]) -> dict[str, Any]:
    """A budget request's fields, validated (422 naming each field): the parts of a
    :class:`Budget` other than its id and creation time."""
    unknown = sorted(set(body) - {"name", "scope", "period", "limit", "thresholds", "at_limit"})
    if unknown:
        raise Invalid("unknown field(s): " + ", ".join(unknown),
                      [FieldProblem(k, "unknown field") for k in unknown])
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 256 or "\x00" in name:
        raise Invalid("invalid name", [FieldProblem("name", "required: text of 1..256 "
                                                    "characters without NUL")])
    at_limit = body.get("at_limit", "notify")
    if at_limit not in AT_LIMIT:
        raise Invalid("invalid at_limit", [FieldProblem(
            "at_limit", "must be notify, approve or deny")])
    if "limit" not in body:
        raise Invalid("limit is required", [FieldProblem("limit", "required")])
    return {"name": name, "scope": _scope(body.get("scope", {})),
            "period": _period(body.get("period", "month")),
            "limit": parse_money(body["limit"], "limit"),
            "thresholds": _thresholds(body.get("thresholds")), "at_limit": at_limit}


def period_to_json(period: Calendar | tuple[int, int]) -> str:
    """The stored form of a period."""
    return json.dumps(list(period) if isinstance(period, tuple) else period)


def budget_from_row(row: Any) -> Budget:
    """A :class:`Budget` from its stored row."""
    period = json.loads(row.period_json)
    return Budget(id=row.id, name=row.name, scope=json.loads(row.scope_json),
                  period=tuple(period) if isinstance(period, list) else period,
                  limit=int(row.limit_units), thresholds=tuple(json.loads(row.thresholds_json)),
                  at_limit=row.at_limit, created_at=row.created_at)
