"""What a statement is asked, and the one usage record it reads from each receipt.

Both sources (a verified ledger file, a deployment's database) decode the same signed
payloads, pick the same receipts (the tenant's, issued in the month) and read them here, so
they cannot disagree about what a receipt contributes.

Currency: ``reporting`` (the default) reads ``cost_reporting`` in ``fx.currency``, the
ledger's reporting currency: a receipt without a rate is unpriced there (spec §5.5);
``native`` reads ``cost`` in the price book's ``currency``, so a tenant served under books in
two currencies has lines (and totals) in each.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from receipts.api.tag_keys import TAG_KEY_RULE, is_tag_key
from receipts.errors import FieldProblem, Invalid
from receipts.report.facts import month_bounds
from verifier.rollup import FIELD_GROUPS, utc_day

TENANT_TAG = "tenant_id"
CURRENCY_MODES = ("reporting", "native")
TENANT_MAX = 256


@dataclass(frozen=True)
class Ask:
    """One statement: the tenant (the value of tag ``tag``), the month, the currency mode and
    the reporting currency (what a receipt without a rate is unpriced in)."""

    tenant: str
    month: str
    tag: str = TENANT_TAG
    mode: str = "reporting"
    reporting: str = "USD"

    def __post_init__(self) -> None:
        if not self.tenant or len(self.tenant) > TENANT_MAX:
            raise Invalid(f"tenant {self.tenant[:40]!r} must be 1 to {TENANT_MAX} characters",
                          [FieldProblem("tenant", f"1 to {TENANT_MAX} characters")])
        if not is_tag_key(self.tag) or self.tag in FIELD_GROUPS:
            raise Invalid(f"tenant tag {self.tag!r} is not a tag name",
                          [FieldProblem("tenant_tag", f"{TAG_KEY_RULE}; not one of "
                                                      f"{', '.join(FIELD_GROUPS)}")])
        if self.mode not in CURRENCY_MODES:
            raise Invalid(f"currency {self.mode!r} is not one of {', '.join(CURRENCY_MODES)}",
                          [FieldProblem("currency", " or ".join(CURRENCY_MODES))])
        month_bounds(self.month)  # refuses a bad month, naming the field

    @property
    def window_ms(self) -> tuple[int, int]:
        """The month as [first ms, first ms of the next month) in UTC."""
        _, first, nxt = month_bounds(self.month)
        return _ms(first), _ms(nxt)

    def wants(self, payload: dict[str, Any]) -> bool:
        """Whether a receipt is the tenant's and issued in the month."""
        low, high = self.window_ms
        issued: int = payload["issued_at"]
        return payload["tags"].get(self.tag) == self.tenant and low <= issued < high


def _ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 1000


@dataclass(frozen=True)
class UsageRecord:
    """One receipt as a statement counts it. ``cost``: 10^-12 units of ``currency``, None
    when the receipt has no cost in it (unpriced, or no FX rate in reporting mode)."""

    id: str
    issued_at: int
    day: str
    provider: str
    model: str
    currency: str
    cost: int | None
    tokens: dict[str, int]


def record_of(payload: dict[str, Any], ask: Ask) -> UsageRecord:
    """The usage record of a decoded receipt payload."""
    if ask.mode == "reporting":
        fx = payload["fx"]
        currency = fx["currency"] if fx else ask.reporting
        cost = payload["cost_reporting"] if fx else None
    else:
        currency, cost = payload["currency"], payload["cost"]
    return UsageRecord(payload["id"], payload["issued_at"], utc_day(payload["issued_at"]),
                       payload["provider"], payload["model"], currency, cost,
                       dict(payload["usage"]))
