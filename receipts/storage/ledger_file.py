"""Write ledger files (spec §7): a CBOR sequence whose every item is signed.

Order: header, public keys, price books, FX rates, allocation sets, receipts (each chain in seq
order), then one checkpoint per chain in the header's order. The writer streams: receipts are
written as they come, so exporting a large ledger needs memory for one receipt at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import BinaryIO

from receipts.deployment.signing_key import Signer
from receipts.issuing.payload_check import check_before_signing
from receipts.issuing.receipt_builder import (
    ChainHead,
    checkpoint_payload,
    fx_rate_payload,
    public_key_payload,
)
from verifier import cose
from verifier.preamble import preamble_digest
from verifier.pricing import FxRate
from verifier.schema import FORMAT_VERSION, LEDGER_FORMAT


def key_item(signer: Signer, valid_from: int, valid_until: int | None = None) -> bytes:
    """Self-signed public key item for ``signer``."""
    return signer.sign(cose.PUBLIC_KEY, public_key_payload(signer, valid_from, valid_until))


def price_book_item(signer: Signer, payload_bytes: bytes) -> bytes:
    """Signed price book item from its deterministic payload bytes (content-addressed)."""
    return signer.sign_payload_bytes(cose.PRICE_BOOK, payload_bytes)


def fx_rate_item(signer: Signer, rate: FxRate) -> bytes:
    """Signed FX rate item (checked with the verifier's rules first)."""
    payload = fx_rate_payload(rate)
    check_before_signing("fx_rate", payload)
    return signer.sign(cose.FX_RATE, payload)


def write_ledger(
    out: BinaryIO,
    signer: Signer,
    *,
    issuer: str,
    reporting_currency: str,
    created_at: int,
    key_items: Sequence[bytes],
    price_book_items: Sequence[bytes],
    fx_rate_items: Sequence[bytes],
    chains: Sequence[ChainHead],
    receipts: Iterable[bytes],
    allocation_items: Sequence[bytes] = (),
) -> int:
    """Write a complete ledger; ``chains`` are the heads the receipts end at. Returns bytes.

    ``counts.allocations`` is written only when there are allocation sets (spec §7.1), so a
    ledger without any is byte for byte what it was before sets existed."""
    preamble = [*key_items, *price_book_items, *fx_rate_items, *allocation_items]
    counts = {"keys": len(key_items), "price_books": len(price_book_items),
              "fx_rates": len(fx_rate_items)}
    if allocation_items:
        counts["allocations"] = len(allocation_items)
    header = {
        "v": FORMAT_VERSION, "format": LEDGER_FORMAT, "issuer": issuer,
        "preamble": preamble_digest(preamble),
        "created_at": created_at, "reporting_currency": reporting_currency,
        "chains": [c.chain for c in chains],
        "counts": counts,
    }
    written = out.write(signer.sign(cose.LEDGER_HEADER, header))
    for item in preamble:
        written += out.write(item)
    for item in receipts:
        written += out.write(item)
    for head in chains:
        written += out.write(signer.sign(cose.CHECKPOINT, checkpoint_payload(issuer, head,
                                                                              created_at)))
    return written
