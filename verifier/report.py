"""What a verification is asked (:class:`VerifyOptions`) and what it found (:class:`LedgerReport`).

The report holds what spec §9.5 prints: VALID or the first failure with its position, the
issuer, receipts per chain, totals per currency and in the reporting currency, unpriced
receipts, the trusted keys, and, for ``--save-checkpoint``, the ledger's checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from verifier.allocation import AllocationSet
from verifier.errors import VerificationFailure
from verifier.keys import PublicKey
from verifier.rollup import Rollup, RollupSpec


@dataclass
class VerifyOptions:
    """What to trust and what to compute.

    ``trusted_keys`` empty means "trust the keys the ledger lists" (the report says so).
    ``since`` holds checkpoint items saved at an earlier audit (``--save-checkpoint``): the
    ledger must extend them, and they count only once a trusted key is found to have signed
    them (spec §7.7; :mod:`verifier.checkpoints`). ``workers`` 0 means one per core; 1
    verifies in-process.
    """

    trusted_keys: tuple[PublicKey, ...] = ()
    since: Sequence[bytes] = ()
    rollup: RollupSpec | None = None
    workers: int = 0
    progress: Callable[[int], None] | None = None


@dataclass
class KeyInfo:
    """A key the verification trusted."""

    kid: str
    fingerprint: str
    source: str  # "ledger" or "--key"


@dataclass
class Totals:
    """Sums over receipts: per price currency, per reporting currency, and unpriced ones."""

    totals: dict[str, int] = field(default_factory=dict)
    totals_reporting: dict[str, int] = field(default_factory=dict)
    unpriced: int = 0

    def add(self, p: dict[str, Any]) -> None:
        """Count one verified receipt."""
        cost = p["cost"]
        if cost is None:
            self.unpriced += 1
            return
        self.totals[p["currency"]] = self.totals.get(p["currency"], 0) + cost
        if p["fx"] is not None:
            ccy = p["fx"]["currency"]
            self.totals_reporting[ccy] = self.totals_reporting.get(ccy, 0) + p["cost_reporting"]

    def merge(self, other: Totals) -> None:
        """Add the sums of ``other`` (a batch's)."""
        self.unpriced += other.unpriced
        for ccy, amount in other.totals.items():
            self.totals[ccy] = self.totals.get(ccy, 0) + amount
        for ccy, amount in other.totals_reporting.items():
            self.totals_reporting[ccy] = self.totals_reporting.get(ccy, 0) + amount


@dataclass
class LedgerReport(Totals):
    """The outcome of verifying one ledger."""

    valid: bool = False
    failure: VerificationFailure | None = None
    issuer: str | None = None
    reporting_currency: str | None = None
    receipts: int = 0
    newly_verified: int = 0
    chains: dict[str, int] = field(default_factory=dict)
    keys: list[KeyInfo] = field(default_factory=list)
    keys_from_ledger: bool = True
    checkpoints: list[bytes] = field(default_factory=list)
    checkpoint_payloads: list[dict[str, Any]] = field(default_factory=list)
    rollup: Rollup | None = None
    allocation_sets: list[AllocationSet] = field(default_factory=list)
    trusted_keys: dict[bytes, PublicKey] = field(default_factory=dict, repr=False)

    def raise_for_failure(self) -> None:
        """Raise the first failure, if any."""
        if self.failure is not None:
            raise self.failure
