"""One pass over a log's calls: spend per group, the seven warnings, the verdict.

Memory is bounded by what a log's *vocabulary* holds (groups, model names, providers), not by
its length: per call, only a 64-bit digest of its request id is kept (for ``duplicate``), and
each warning keeps its first :data:`MAX_LINES` line references.

Rules (README "Audit a usage log" states them for users):

* spend of a call = its cost priced with the book (the service's own pipeline:
  ``pricing.call_pricing.bill_call``, then the verifier's ``PriceBook.resolve`` and
  ``cost_of``), else the cost as logged, else nothing (counted in ``unpriced_calls``);
  cost-only rows (Costs API, cost reports) are their logged amount;
* ``duplicate``: a request id seen before; the repeat is left out of the spend (it would be
  counted twice) and reported with the spend it would have added;
* ``unattributed``: a call without every ``--require`` tag;
* ``pricing_mismatch``: a logged cost off the book's by more than ``--tolerance`` (a fraction
  of the book's cost); ``cache_as_input`` instead when the logged cost matches the book's price
  of the same tokens with cache reads and writes priced as plain input;
* ``unknown_model``: a model the book cannot place (priced by its logged cost if any);
* ``alias_drift``: a billed model logged under several names (all but the most used name are
  reported), or under a name with ``latest`` in it, which hides which model was billed;
* ``mixed_providers``: one billed model id from several providers (all but the most used
  provider are reported).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from receipts.logs.records import LogCall
from receipts.pricing.call_pricing import bill_call
from receipts.pricing.model_names import ModelNames, normalize_provider
from verifier.money import cost_of
from verifier.pricing import PriceBook
from verifier.schema import PRICED

MAX_LINES = 100
CODES = ("unattributed", "duplicate", "alias_drift", "pricing_mismatch", "cache_as_input",
         "unknown_model", "mixed_providers")
_CACHE = ("cache_read", "cache_write", "cache_write_1h")


@dataclass
class Bucket:
    """A count, the spend it covers (10^-12 units) and the first line references."""

    count: int = 0
    cost: int = 0
    lines: list[str] = field(default_factory=list)

    def add(self, where: str, cost: int) -> None:
        """Count one line."""
        self.count += 1
        self.cost += cost
        if len(self.lines) < MAX_LINES:
            self.lines.append(where)

    def merge(self, other: Bucket) -> None:
        """Add another bucket's counts (line references up to the cap)."""
        self.count += other.count
        self.cost += other.cost
        self.lines.extend(other.lines[: MAX_LINES - len(self.lines)])


@dataclass
class Group:
    """Spend of one group of ``--by`` tag values."""

    calls: int = 0
    spend: int = 0
    logged_cost: int = 0
    unpriced_calls: int = 0


@dataclass(frozen=True, slots=True)
class Assessed:
    """One call as the book sees it: its cost (None: not priced), the billed (provider,
    model), whether the model is unknown, and a logged cost's mismatch (code, logged − book)."""

    cost: int | None = None
    billed: tuple[str, str] | None = None
    unknown: bool = False
    mismatch: tuple[str, int] | None = None


@dataclass
class AuditResult:
    """Everything the report shows."""

    by: tuple[str, ...]
    require: tuple[str, ...]
    records: int
    groups: dict[tuple[str | None, ...], Group]
    warnings: dict[str, Bucket]
    total: int
    attributable: int
    min_share: Decimal

    @property
    def share(self) -> Decimal:
        """Attributable spend as a percentage (100 when there is no spend)."""
        if self.total == 0:
            return Decimal(100)
        return (Decimal(self.attributable) * 100 / Decimal(self.total)).quantize(
            Decimal("0.01"))

    @property
    def ready(self) -> bool:
        """Attribution-ready: share at least the bar and no request counted twice."""
        return self.share >= self.min_share and self.warnings["duplicate"].count == 0


class Audit:
    """Accumulates calls; :meth:`result` closes the pass."""

    def __init__(self, book: PriceBook, *, by: Sequence[str], require: Sequence[str],
                 tolerance: Decimal, min_share: Decimal, names: ModelNames | None = None
                 ) -> None:
        self.book = book
        self.names = names or ModelNames(book)
        self.by, self.require = tuple(by), tuple(require)
        self.tolerance, self.min_share = tolerance, min_share
        self.records = 0
        self.groups: dict[tuple[str | None, ...], Group] = {}
        self.warnings = {code: Bucket() for code in CODES}
        self.seen: set[bytes] = set()
        self.spellings: dict[tuple[str, str], dict[str, Bucket]] = {}
        self.providers: dict[str, dict[str, Bucket]] = {}
        self.total = self.attributable = 0

    def add_all(self, calls: Iterable[LogCall]) -> Audit:
        """Add every call."""
        for call in calls:
            self.add(call)
        return self

    def add(self, call: LogCall) -> None:
        """Price one call and check it."""
        self.account(call, self.assess(call))

    def assess(self, call: LogCall) -> Assessed:
        """What the book says of one call, on its own (no state: worker processes may assess
        calls for :meth:`account` to take in log order)."""
        if call.usage is None:
            return Assessed()
        at = call.at_ms if call.at_ms is not None else self.book.effective_from
        prepared = bill_call(self.names, provider=call.provider, model=call.model,
                             normalized=call.usage, service_tier=call.service_tier, at_ms=at)
        if not prepared.name.resolved:
            return Assessed(unknown=True)
        billed = (prepared.provider, prepared.model)
        resolution = self.book.resolve_shared(*billed, prepared.usage, prepared.service_tier)
        if resolution.status != PRICED:
            return Assessed(billed=billed)
        cost = cost_of(prepared.usage, resolution.unit_prices)
        mismatch = None
        if call.logged_cost is not None and not self._close(call.logged_cost, cost):
            plain = self._cache_as_input(billed, prepared.usage, prepared.service_tier)
            code = "cache_as_input" if plain is not None and plain != cost \
                and self._close(call.logged_cost, plain) else "pricing_mismatch"
            mismatch = (code, call.logged_cost - cost)
        return Assessed(cost, billed, mismatch=mismatch)

    def account(self, call: LogCall, assessed: Assessed) -> None:
        """Take one assessed call into the totals and warnings (calls in log order)."""
        self.records += 1
        if assessed.unknown:
            self.warnings["unknown_model"].add(call.where, call.logged_cost or 0)
        if assessed.mismatch is not None:
            self.warnings[assessed.mismatch[0]].add(call.where, assessed.mismatch[1])
        priced, billed = assessed.cost, assessed.billed
        spend = priced if priced is not None else (call.logged_cost or 0)
        if call.request_id is not None:
            digest = hashlib.blake2b(call.request_id.encode(), digest_size=8).digest()
            if digest in self.seen:
                self.warnings["duplicate"].add(call.where, spend)
                return
            self.seen.add(digest)
        group = self.groups.get(key := tuple(call.tags.get(t) for t in self.by))
        if group is None:
            group = self.groups[key] = Group()
        group.calls += call.calls
        group.spend += spend
        group.logged_cost += call.logged_cost or 0
        if priced is None and call.logged_cost is None:
            group.unpriced_calls += call.calls
        self.total += spend
        if all(call.tags.get(t) for t in self.require):
            self.attributable += spend
        else:
            self.warnings["unattributed"].add(call.where, spend)
        if "latest" in call.model.lower():
            self.warnings["alias_drift"].add(call.where, spend)
        if billed is not None:
            self._names(call, billed, spend)

    def _close(self, logged: int, cost: int) -> bool:
        return abs(logged - cost) <= self.tolerance * cost

    def _cache_as_input(self, billed: tuple[str, str], usage: dict[str, int],
                        tier: str | None) -> int | None:
        """The cost with cache reads and writes priced as plain input (None without cache)."""
        moved = sum(usage.get(c, 0) for c in _CACHE)
        if not moved:
            return None
        plain = {k: v for k, v in usage.items() if k not in _CACHE}
        plain["input"] = plain.get("input", 0) + moved
        resolution = self.book.resolve_shared(*billed, plain, tier)
        return cost_of(plain, resolution.unit_prices) if resolution.status == PRICED else None

    def _names(self, call: LogCall, billed: tuple[str, str], spend: int) -> None:
        names = self.spellings.setdefault(billed, {})
        if call.model in names or len(names) < 1_000:
            names.setdefault(call.model, Bucket()).add(call.where, spend)
        providers = self.providers.setdefault(billed[1], {})
        provider = normalize_provider(call.provider) or billed[0]
        if provider in providers or len(providers) < 100:
            providers.setdefault(provider, Bucket()).add(call.where, spend)

    def result(self) -> AuditResult:
        """Close the pass: the name and provider warnings need every line seen."""
        for names in self.spellings.values():
            for name, bucket in _minor(names):
                if "latest" not in name.lower():  # already reported line by line
                    self.warnings["alias_drift"].merge(bucket)
        for providers in self.providers.values():
            for _, bucket in _minor(providers):
                self.warnings["mixed_providers"].merge(bucket)
        return AuditResult(self.by, self.require, self.records, self.groups, self.warnings,
                           self.total, self.attributable, self.min_share)


def _minor(buckets: dict[str, Bucket]) -> list[tuple[str, Bucket]]:
    """All but the most used key (ties: the first seen wins), when there are several."""
    if len(buckets) < 2:
        return []
    counts = Counter({k: b.count for k, b in buckets.items()})
    top = counts.most_common(1)[0][0]
    return [(k, b) for k, b in buckets.items() if k != top]
