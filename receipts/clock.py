"""The service's clock: wall-clock time in the format's unit, milliseconds since the epoch."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Wall-clock time in milliseconds (the unit of every time in a receipt, spec §3.4)."""
    return time.time_ns() // 1_000_000
