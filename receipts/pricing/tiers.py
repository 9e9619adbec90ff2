"""Service tier names: how providers spell them, and prices that depend on the time of day.

A book entry's ``service_tiers`` hold full price maps for batch, flex, priority... The verifier
prices a receipt with the tier the receipt names, so naming the tier right is the service's job,
done here in one place:

* Providers' spellings of "the standard price" (OpenAI ``default``/``auto``, Anthropic
  ``standard``, Vertex ``ON_DEMAND``) all mean *no* tier.
* Time-of-day prices (DeepSeek's peak hours) are tiers named ``window:HH:MM-HH:MMZ``: the name
  carries its UTC window, so anyone holding the book and the receipt's ``issued_at`` can check
  that the window contained the call. :func:`tier_for_call` picks it from the call's time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

STANDARD_NAMES = frozenset({"standard", "default", "auto", "on_demand", "traffic_type_unspecified"})

_ALIASES = {
    "on_demand_priority": "priority",
    "on_demand_flex": "flex",
    "provisioned_throughput": "provisioned",
}

_WINDOW = re.compile(r"^window:(\d\d):(\d\d)-(\d\d):(\d\d)Z$")
_DAY_MS = 86_400_000


def normalize_service_tier(raw: str | None) -> str | None:
    """The tier name books use for a provider's spelling; ``None`` for the standard price."""
    if raw is None:
        return None
    name = raw.strip().lower()
    if not name or name in STANDARD_NAMES:
        return None
    return _ALIASES.get(name, name)


def window_name(start_minute: int, end_minute: int) -> str:
    """``window:01:00-04:00Z`` for a UTC window given in minutes after midnight."""
    return (f"window:{start_minute // 60:02d}:{start_minute % 60:02d}-"
            f"{end_minute // 60:02d}:{end_minute % 60:02d}Z")


def parse_window(name: str) -> tuple[int, int] | None:
    """(start, end) in minutes after UTC midnight for a window tier name, else ``None``."""
    match = _WINDOW.match(name)
    if match is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return h1 * 60 + m1, h2 * 60 + m2


def in_window(start: int, end: int, at_ms: int) -> bool:
    """Whether ``at_ms`` falls in [start, end) UTC minutes; a window may wrap past midnight."""
    minute = (at_ms % _DAY_MS) // 60_000
    if end < start:
        return minute >= start or minute < end
    return start <= minute < end


def tier_for_call(entry: Mapping[str, Any] | None, requested: str | None, at_ms: int) -> str | None:
    """The tier a call is priced at: the one asked for, else a time window in force, else none.

    An explicit tier (batch, priority...) wins: time-of-day prices in the data apply to the
    standard price only.
    """
    if requested is not None or entry is None:
        return requested
    names: list[str] = sorted(entry.get("service_tiers", {}))
    for name in names:
        window = parse_window(name)
        if window is not None and in_window(window[0], window[1], at_ms):
            return name
    return None
