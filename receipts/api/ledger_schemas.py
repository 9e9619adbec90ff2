"""The public ledger endpoints' models: signing keys, checkpoints, price books, health."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class KeyOut(BaseModel):
    """A public signing key and the signed key item that states its validity."""

    kid: str
    fingerprint: str
    public_key_pem: str
    valid_from: str
    valid_until: str | None
    cose: str


class Keys(BaseModel):
    """The issuer's public signing keys."""

    keys: list[KeyOut]


class CheckpointOut(BaseModel):
    """A signed checkpoint of one chain: its payload as JSON and the COSE_Sign1 (base64)."""

    checkpoint: dict[str, Any]
    cose: str


class Checkpoints(BaseModel):
    """One freshly signed checkpoint per chain."""

    checkpoints: list[CheckpointOut]


class PriceBookSummary(BaseModel):
    """A stored price book: its SHA-256, currency, start, source, size and signed item."""

    id: str
    currency: str
    effective_from: str
    source: str
    models: int
    cose: str


class PriceBooks(BaseModel):
    """Every stored price book."""

    price_books: list[PriceBookSummary]


class PriceBookOut(PriceBookSummary):
    """One price book with its payload (prices in 10^-6 currency units per 1M tokens)."""

    payload: dict[str, Any]


class Health(BaseModel):
    """The service is up and its database answers."""

    status: Literal["ok"]
