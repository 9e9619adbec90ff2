# ruff: noqa: S608 - SQL text holds only fixed names and driver placeholders, never values
"""The budgets in force, kept per process and reloaded when another process changes one.

Every append and every authorization asks which budgets cover a call. Definitions change
rarely, so each process keeps them, keyed by a version in ``receipts_meta`` that every change
replaces inside its own transaction: one tiny read per transaction tells whether the copy is
still current. The version is random (never two databases' alike), so a process that opens
several deployments (tests, tools) never takes one's budgets for another's.
"""

from __future__ import annotations

import secrets
import threading
from collections import namedtuple
from dataclasses import dataclass, field

from receipts.budgets.definition import Budget, budget_from_row
from receipts.budgets.raw import Raw

VERSION_KEY = "budgets_version"
_COLUMNS = ("id", "name", "scope_json", "period_json", "limit_units", "thresholds_json",
            "at_limit", "created_at")
_Row = namedtuple("_Row", _COLUMNS)  # type: ignore[misc]


def version(raw: Raw) -> str:
    """The budgets' version ("" before any budget was ever set)."""
    return meta(raw, VERSION_KEY).get(VERSION_KEY, "")


def meta(raw: Raw, *keys: str) -> dict[str, str]:
    """Values of ``receipts_meta`` keys (absent keys left out), in one query: an authorization
    group reads the budgets' and the price books' versions together."""
    return {str(k): str(v) for k, v in raw.rows(
        f"SELECT key, value FROM receipts_meta WHERE key IN ({raw.marks(len(keys))})", keys)}


def bump_version(raw: Raw) -> None:
    """Mark the budgets changed (inside the changing transaction)."""
    new = secrets.token_hex(16)
    if raw.run(f"UPDATE receipts_meta SET value = {raw.p} WHERE key = {raw.p}",
               (new, VERSION_KEY)) == 0:
        raw.run(f"INSERT INTO receipts_meta (key, value) VALUES ({raw.p}, {raw.p})",
                (VERSION_KEY, str(new)))


def load_all(raw: Raw) -> list[Budget]:
    """Every stored budget, by id."""
    return [budget_from_row(_Row(*r)) for r in raw.rows(
        f"SELECT {', '.join(_COLUMNS)} FROM receipts_budget ORDER BY id")]


@dataclass
class Catalog:
    """This process's copy of the budgets, reloaded when the stored version moves."""

    version: str = "-"
    budgets: tuple[Budget, ...] = ()
    by_id: dict[str, Budget] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self, raw: Raw, known: str | None = None) -> tuple[Budget, ...]:
        """The budgets as of ``raw``'s transaction (``known``: the version, when the caller
        has already read it in this transaction)."""
        now = version(raw) if known is None else known
        if not now:
            return ()
        with self._lock:
            if now != self.version:
                loaded = load_all(raw)
                self.budgets, self.by_id = tuple(loaded), {b.id: b for b in loaded}
                self.version = now
            return self.budgets


CATALOG = Catalog()
"""The process's one copy (the append and the API read the same)."""
