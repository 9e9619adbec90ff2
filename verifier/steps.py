"""Steps 3 to 8 of verification (spec §9.2) for one receipt, in the spec's order.

The order of the checks decides which failure code is reported when one receipt has several
defects, so it is the spec's, step by step. The steps need the trusted keys and what the
preamble established (price books, FX rates, the reporting currency): :class:`ReceiptContext`.
Steps 9 and 10 (chain links, duplicates, checkpoints) need the whole ledger and are in
:mod:`verifier.chain` and :mod:`verifier.checkpoints`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verifier import cose
from verifier.encoding import decode_strict
from verifier.errors import EncodingError, SchemaError, VerificationFailure
from verifier.keys import PublicKey
from verifier.money import convert, cost_of
from verifier.pricing import BookSchedule, FxRate, PriceBook, RateTable, receipt_fx
from verifier.schema import PRICED, check_receipt


@dataclass
class ReceiptContext:
    """What steps 3-8 take from the preamble; fixed once it is read."""

    keys: dict[bytes, PublicKey]
    """The trusted keys (§9.1), by kid."""
    books: dict[bytes, PriceBook]
    rates: list[FxRate]
    reporting_currency: str
    saved_sizes: dict[str, int] = field(default_factory=dict)
    """Per chain, the size of a saved checkpoint (``--since``, §7.7), already authenticated
    or to be authenticated before the run can end VALID (step 10)."""
    schedule: BookSchedule = field(init=False)
    rate_table: RateTable = field(init=False)

    def __post_init__(self) -> None:
        self.schedule = BookSchedule(self.books.values())
        self.rate_table = RateTable(self.rates)

    def covered(self, payload: Any) -> bool:
        """Whether a saved checkpoint covers this receipt (§7.7: its ``seq`` is below the saved
        size of its chain), so steps 4, 7 and 8 may be skipped: the saved head fixes its bytes,
        which step 9 proves."""
        if not self.saved_sizes or type(payload) is not dict:
            return False
        chain, seq = payload.get("chain"), payload.get("seq")
        return type(chain) is str and type(seq) is int and seq < self.saved_sizes.get(chain, 0)


def check_receipt_item(ctx: ReceiptContext, item: bytes) -> tuple[dict[str, Any], bool]:
    """Steps 3-8 for the receipt ``item``: its payload, and whether it was fully verified
    (False when a saved checkpoint covers it). Raises :class:`VerificationFailure`."""
    # Step 3 - Envelope: the exact COSE_Sign1 layout, the protected header, a trusted kid.
    env = cose.parse(item)
    if env.content_type != cose.RECEIPT:
        raise VerificationFailure("unexpected_item", f"{env.content_type} among receipts")
    key = ctx.keys.get(env.kid)
    if key is None:
        raise VerificationFailure("untrusted_key", f"kid {env.kid.hex()} is not trusted")
    # (Step 5 decodes before step 4 runs, since coverage by a saved checkpoint is read from
    # the payload; its failure is reported in step 5's place, after the signature's.)
    payload: Any = None
    decode_error: VerificationFailure | None = None
    try:
        payload = decode_strict(env.payload)
    except EncodingError as e:
        decode_error = VerificationFailure("non_deterministic_encoding", str(e))
    full = not ctx.covered(payload)
    # Step 4 - Signature (§4.1), unless a saved checkpoint covers the receipt (§7.7).
    if full:
        cose.verify_signature(env, key)
    # Step 5 - Deterministic payload (§3.2).
    if decode_error is not None:
        raise decode_error
    # Step 6 - Schema (§6.1, §6.2) and key validity at issued_at (§4.3).
    try:
        check_receipt(payload)
    except SchemaError as e:
        raise VerificationFailure("schema_violation", str(e)) from e
    if not key.valid_at(payload["issued_at"]):
        raise VerificationFailure("key_not_valid", "key not valid at issued_at")
    if full:
        check_price(ctx, payload)  # Step 7
        check_fx(ctx, payload)  # Step 8
    return payload, full


def check_price(ctx: ReceiptContext, p: dict[str, Any]) -> None:
    """Step 7 - Price (§5.2, §5.3): the cited book is the one in force, and gives the
    receipt's status, unit prices and cost."""
    book = ctx.books.get(p["price_book"])
    if book is None:
        raise VerificationFailure("unknown_price_book", "price_book not included in the ledger")
    if book.currency != p["currency"]:
        raise VerificationFailure("price_book_mismatch", "currency differs from the price book's")
    if ctx.schedule.in_force(p["issued_at"]) is not book:
        raise VerificationFailure("wrong_price_book", "not the price book in force at issued_at")
    usage, status = p["usage"], p["pricing_status"]
    resolution = book.resolve_shared(p["provider"], p["model"], usage, p.get("service_tier"))
    if resolution.status != status:
        raise VerificationFailure(
            "pricing_status_mismatch",
            f"receipt says {status}, price book gives {resolution.status}",
        )
    if status == PRICED:
        unit_prices = p["unit_prices"]
        if resolution.unit_prices != unit_prices:
            raise VerificationFailure("unit_price_mismatch", "unit_prices differ from the book")
        if cost_of(usage, unit_prices) != p["cost"]:
            raise VerificationFailure("cost_mismatch", "cost ≠ Σ usage × unit_prices")


def check_fx(ctx: ReceiptContext, p: dict[str, Any]) -> None:
    """Step 8 - FX (§5.4, §5.5): ``fx`` is the one the rule selects, and ``cost_reporting``
    its conversion of ``cost``."""
    fx, reporting = p["fx"], ctx.reporting_currency
    expected = receipt_fx(p["currency"], reporting, ctx.rate_table, p["issued_at"])
    if fx != expected:
        if fx is None:
            raise VerificationFailure("fx_mismatch", "fx is null but a rate applies")
        if fx["currency"] != reporting:
            raise VerificationFailure("fx_mismatch", "fx currency is not the reporting currency")
        if expected is None:
            raise VerificationFailure("fx_mismatch", "no published rate applies")
        raise VerificationFailure("fx_mismatch", f"fx should be {expected}")
    cost = p["cost"]
    if fx is not None and cost is not None and convert(cost, fx["rate"]) != p["cost_reporting"]:
        raise VerificationFailure("fx_conversion_mismatch", "cost_reporting ≠ cost × rate")
