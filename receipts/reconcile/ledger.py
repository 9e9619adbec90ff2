"""The ledger side of a reconciliation: verified receipts totalled per provider, model, period.

Receipts count only once the verifier has checked them: the totals come from the verifier's
own rollup (:class:`verifier.rollup.RollupSpec` grouped by provider, model, the team tag and the
required tags, per UTC day or month), computed in the same pass that checks every signature,
chain link and cost. A ledger that does not verify is refused, never reconciled.

Currency: receipts are priced in their price book's currency (``cost``) and converted to the
ledger's reporting currency at the day's signed rate (``cost_reporting``). An invoice in the
books' currency is compared with ``cost``; an invoice in the reporting currency (and not the
books') with ``cost_reporting``. Receipts in any other currency cannot be compared: they are
counted apart (``other_currency``), never converted at a rate the ledger does not hold.

``--data DIR`` exports the deployment's ledger to a temporary file and verifies that file with
the deployment's public key: one path for both sources.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from receipts.errors import UnreadableInvoice
from verifier import cose
from verifier.encoding import decode_strict, split_sequence
from verifier.errors import EncodingError, UsageError, VerifierError
from verifier.keys import PublicKey, load_public_key_pem
from verifier.pricing import PriceBook
from verifier.rollup import RollupSpec
from verifier.verify import VerifyOptions, audit_ledger_file, read_chunks

TEAM_TAG = "team"
CellKey = tuple[str, str, str]
"""(provider, model, period)."""


@dataclass
class TeamPart:
    """One team's receipts in a cell. ``attributable``: the cost of those carrying every
    required tag; money in 10^-12 units."""

    amount: int = 0
    attributable: int = 0
    receipts: int = 0
    unpriced: int = 0


@dataclass
class LedgerCell:
    """Verified receipts of one provider, model and period."""

    amount: int = 0
    receipts: int = 0
    unpriced: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    teams: dict[str | None, TeamPart] = field(default_factory=dict)


    def merge(self, other: LedgerCell) -> None:
        """Add another cell's receipts into this one."""
        self.amount += other.amount
        self.receipts += other.receipts
        self.unpriced += other.unpriced
        for category, count in other.tokens.items():
            self.tokens[category] = self.tokens.get(category, 0) + count
        for team, part in other.teams.items():
            mine = self.teams.setdefault(team, TeamPart())
            mine.amount += part.amount
            mine.attributable += part.attributable
            mine.receipts += part.receipts
            mine.unpriced += part.unpriced


@dataclass
class LedgerSide:
    """The verified ledger, totalled for the comparison in ``currency``."""

    source: str
    currency: str
    mode: str
    cells: dict[CellKey, LedgerCell]
    books: list[PriceBook]
    receipts: int
    other_currency: dict[str, int] = field(default_factory=dict)
    other_currency_receipts: int = 0

    def entry(self, provider: str, model: str) -> dict[str, Any] | None:
        """The price book entry of the latest book in the compared currency that lists
        (provider, model); None when comparing in the reporting currency (a book's prices
        are not in it: explanations that need prices are not quantified)."""
        if self.mode != "native":
            return None
        for book in reversed(self.books):
            if book.currency != self.currency:
                continue
            found = book.entries.get((provider, model))
            if found is not None:
                return found
        return None


def load_keys(paths: tuple[Path, ...]) -> tuple[PublicKey, ...]:
    """The pinned public keys (PEM files)."""
    try:
        return tuple(load_public_key_pem(p) for p in paths)
    except (UsageError, OSError) as e:
        raise UnreadableInvoice(f"--key: {e}") from e


def preamble(path: Path) -> tuple[str | None, list[PriceBook]]:
    """The reporting currency and the price books the ledger holds (parsed, not yet trusted:
    verification authenticates them before any total is used)."""
    reporting: str | None = None
    books: list[PriceBook] = []
    try:
        for _, item in split_sequence(read_chunks(path)):
            env = cose.parse(item)
            if env.content_type == cose.RECEIPT:
                break
            if env.content_type == cose.LEDGER_HEADER:
                reporting = decode_strict(env.payload).get("reporting_currency")
            elif env.content_type == cose.PRICE_BOOK:
                books.append(PriceBook.from_payload(decode_strict(env.payload), env.payload))
    except (VerifierError, EncodingError) as e:
        raise UnreadableInvoice(f"{path}: not a receipts ledger ({e})") from e
    except OSError as e:
        raise UnreadableInvoice(f"{path}: {e.strerror or e}") from e
    books.sort(key=lambda b: b.effective_from)
    return reporting, books


def comparison_mode(path: Path, invoice_currency: str, reporting: str | None,
                    books: list[PriceBook]) -> str:
    """``native`` when the invoice is in a book's currency, ``reporting`` when it is in the
    ledger's reporting currency only; anything else cannot be compared exactly."""
    if any(b.currency == invoice_currency for b in books):
        return "native"
    if reporting == invoice_currency:
        return "reporting"
    priced = ", ".join(sorted({b.currency for b in books})) or "no currency"
    raise UnreadableInvoice(
        f"{path}: the invoices are in {invoice_currency}, the ledger prices in {priced} and "
        f"reports in {reporting}: no receipt states its cost in {invoice_currency}")


def load_ledger(path: Path, keys: tuple[PublicKey, ...], invoice_currency: str,
                period: str, require: tuple[str, ...], workers: int = 0) -> LedgerSide:
    """Verify ``path`` against ``keys`` and total its receipts per provider, model, period."""
    if not path.is_file():
        raise UnreadableInvoice(f"{path}: " + ("not a regular file" if path.exists()
                                               else "no such file"))
    reporting, books = preamble(path)
    mode = comparison_mode(path, invoice_currency, reporting, books)
    by = ("provider", "model", *dict.fromkeys((TEAM_TAG, *require)))
    spec = RollupSpec(by, period, mode)
    report = audit_ledger_file(path, VerifyOptions(trusted_keys=keys, rollup=spec,
                                                   workers=workers))
    if not report.valid or report.rollup is None:
        raise UnreadableInvoice(f"{path}: the ledger is INVALID, refusing to reconcile: "
                                f"{report.failure}")
    side = LedgerSide(str(path), invoice_currency, mode, {}, books, report.receipts)
    team_at = by.index(TEAM_TAG)
    required_at = [by.index(t) for t in require]
    for row in report.rollup.rows():
        group = row.group
        if row.currency != invoice_currency:
            label = row.currency or "(no rate)"
            side.other_currency[label] = side.other_currency.get(label, 0) + group.cost
            side.other_currency_receipts += group.receipts
            continue
        provider, model = row.values[0] or "", row.values[1] or ""
        key = (provider, model, row.period or "")
        cell = side.cells.setdefault(key, LedgerCell())
        cell.amount += group.cost
        cell.receipts += group.receipts
        cell.unpriced += group.unpriced
        for category, count in group.tokens.items():
            cell.tokens[category] = cell.tokens.get(category, 0) + count
        part = cell.teams.setdefault(row.values[team_at], TeamPart())
        part.amount += group.cost
        part.receipts += group.receipts
        part.unpriced += group.unpriced
        if all(row.values[i] is not None for i in required_at):
            part.attributable += group.cost
    return side


@contextmanager
def exported_ledger(data_dir: Path | None, db_url: str | None
                    ) -> Iterator[tuple[Path, tuple[PublicKey, ...]]]:
    """The deployment's ledger exported to a temporary file, and its public key."""
    from receipts.deployment.runtime import open_runtime
    from receipts.deployment.settings import load_settings
    from receipts.storage.export import export_ledger

    with tempfile.TemporaryDirectory(prefix="receipts-reconcile-") as tmp:
        path = Path(tmp) / "ledger.cbor"
        runtime = open_runtime(load_settings(data_dir, db_url))
        try:
            with path.open("wb") as out:
                export_ledger(runtime, out)
            key = PublicKey(runtime.signer.public_key)
        finally:
            runtime.close()
        yield path, (key,)
