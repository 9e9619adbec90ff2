"""Any CSV, read through a column map (``--map column=field``).

Fields: ``request_id``, ``timestamp`` (RFC 3339 or epoch s/ms/ns), ``provider``, ``model``,
``service_tier``, ``cost`` (as logged, in the book's currency), the usage counts of the
service's own convention (``input_tokens`` *including* cache reads and writes,
``output_tokens`` including reasoning, ``cache_read_tokens``, ``cache_write_tokens``,
``cache_write_1h_tokens``, ``reasoning_tokens``, ``web_search_requests``), and ``tag:NAME`` for
a column that holds tag NAME. Usage is normalized by the service's ``receipts`` rule.
"""

from __future__ import annotations

from collections.abc import Mapping

from receipts.errors import UnreadableLog
from receipts.logs.records import LogCall, money_units, time_ms
from receipts.pricing.usage import normalize_usage

USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                "cache_write_1h_tokens", "reasoning_tokens", "web_search_requests")
FIELDS = ("request_id", "timestamp", "provider", "model", "service_tier", "cost", *USAGE_FIELDS)


def parse_map(items: tuple[str, ...]) -> dict[str, str]:
    """``column=field`` options as {column: field}; refuses unknown fields."""
    out: dict[str, str] = {}
    for item in items:
        column, sep, target = item.partition("=")
        if not sep or not column.strip() or not target.strip():
            raise UnreadableLog(f"--map {item!r}: expected column=field")
        target = target.strip()
        if target not in FIELDS and not (target.startswith("tag:") and len(target) > 4):
            raise UnreadableLog(f"--map {item!r}: field must be one of {', '.join(FIELDS)} "
                                "or tag:NAME")
        out[column.strip()] = target
    return out


class MappedCsv:
    """Rows of one CSV file through a column map checked against its header."""

    def __init__(self, columns: list[str], mapping: Mapping[str, str], where: str) -> None:
        missing = [c for c in mapping if c not in columns]
        if missing:
            raise UnreadableLog(f"{where}: --map names columns the header lacks: "
                                + ", ".join(missing))
        self.fields = {target: column for column, target in mapping.items()}
        for needed in ("model", "input_tokens", "output_tokens"):
            if needed not in self.fields:
                raise UnreadableLog(f"{where}: --map must name a column for {needed}")

    def call(self, row: Mapping[str, str], where: str) -> LogCall:
        """One row as a call."""
        def cell(name: str) -> str:
            column = self.fields.get(name)
            return row[column].strip() if column is not None else ""

        usage = {}
        for name in USAGE_FIELDS:
            text = cell(name)
            if text:
                if not text.isdigit():
                    raise UnreadableLog(f"{where}: {self.fields[name]}: {text!r} is not a "
                                        "token count")
                usage[name] = int(text)
        usage.setdefault("input_tokens", 0)
        usage.setdefault("output_tokens", 0)
        tags = {t[4:]: row[c].strip() for t, c in self.fields.items()
                if t.startswith("tag:") and row[c].strip()}
        cost = cell("cost")
        return LogCall(where, cell("provider"), cell("model"), cell("request_id") or None,
                       time_ms(cell("timestamp") or None, f"{where}: timestamp"), tags,
                       normalize_usage("receipts", usage),
                       money_units(cost, f"{where}: cost") if cost else None,
                       cell("service_tier") or None, shape="csv")
