"""Step 2 of verification (spec §9.2): the ledger header, public keys, price books, FX rates
and allocation sets.

Item 0 is the header; its ``counts`` say how many keys, price books, FX rates and allocation
sets follow, in that order, and its ``preamble`` digest (:func:`preamble_digest`) says which.
Once the keys are read the trusted keys are fixed (§9.1) and the header, read first, is
authenticated. The helpers :func:`open_item` and :func:`authenticate` are the envelope,
signature and key checks every item but a receipt goes through (a receipt's are in
:mod:`verifier.steps`); step 10's checkpoints use them too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from verifier import cose
from verifier.allocation import AllocationSet
from verifier.encoding import decode_strict
from verifier.errors import EncodingError, Position, SchemaError, VerificationFailure
from verifier.keys import PublicKey, key_id
from verifier.pricing import FxRate, PriceBook
from verifier.schema import check_fx_rate, check_header, check_public_key_item, preamble_counts


def preamble_digest(items: Iterable[bytes]) -> bytes:
    """SHA-256 over the preamble items' bytes, in order: the header's ``preamble`` (spec §7.1).

    The header's counts say how many keys, price books and rates follow; this digest says which,
    so not even an item nothing refers to can be swapped for another validly signed one.
    """
    digest = hashlib.sha256()
    for item in items:
        digest.update(item)
    return digest.digest()


def fail(code: str, reason: str, index: int, chain: str | None = None) -> VerificationFailure:
    """A failure at item ``index``."""
    return VerificationFailure(code, reason, Position(index, chain))


def open_item(index: int, item: bytes, expected: str, wrong_kind: str
              ) -> tuple[cose.Envelope, Any]:
    """Step 3's envelope checks, then the content type (``wrong_kind`` if it is not
    ``expected``); returns the envelope and the strictly decoded payload, or the
    :class:`EncodingError` that step 5 reports in its place."""
    try:
        env = cose.parse(item)
    except VerificationFailure as e:
        raise e.at(Position(index)) from e
    if env.content_type != expected:
        raise fail(wrong_kind, f"found {env.content_type} where {expected} belongs", index)
    try:
        payload = decode_strict(env.payload)
    except EncodingError as e:
        payload = e
    return env, payload


def authenticate(index: int, env: cose.Envelope, payload: Any, key: PublicKey | None,
                 when: int | None) -> None:
    """A trusted kid (``key`` None: untrusted), the signature (step 4), strict decoding (step
    5) and, when ``when`` is given, the key valid at that time (§4.3), in that order."""
    if key is None:
        raise fail("untrusted_key", f"kid {env.kid.hex()} is not trusted", index)
    try:
        cose.verify_signature(env, key)
    except VerificationFailure as e:
        raise e.at(Position(index)) from e
    decoded(index, payload)
    if when is not None and not key.valid_at(when):
        raise fail("key_not_valid", "signing key not valid at the item's time", index)


def decoded(index: int, payload: Any) -> Any:
    """The payload, unless strict decoding failed (step 5)."""
    if isinstance(payload, EncodingError):
        raise fail("non_deterministic_encoding", str(payload), index)
    return payload


def schema(index: int, check: Callable[[Any], None], payload: Any) -> None:
    """A payload's fields (``schema_violation``)."""
    try:
        check(payload)
    except SchemaError as e:
        raise fail("schema_violation", str(e), index) from e


def time_of(payload: Any, field: str) -> int | None:
    value = payload.get(field) if isinstance(payload, dict) else None
    return value if type(value) is int else None


class Preamble:
    """Step 2, one item at a time: :meth:`take` each item until :attr:`done`."""

    def __init__(self, pinned: tuple[PublicKey, ...]) -> None:
        self.pinned = pinned
        self.header: dict[str, Any] | None = None
        self.header_env: cose.Envelope | None = None
        self.ledger_keys: dict[bytes, PublicKey] = {}
        self.trusted: dict[bytes, PublicKey] = {}
        self.books: dict[bytes, PriceBook] = {}
        self.rates: list[FxRate] = []
        self.allocations: dict[bytes, AllocationSet] = {}
        self.items: list[bytes] = []  # every item after the header, for 2g
        self.trust_fixed = False
        self.section = "header"

    @property
    def done(self) -> bool:
        """Whether the whole preamble has been read and checked."""
        return self.section == "done"

    def take(self, index: int, item: bytes) -> None:
        """Check the next preamble item."""
        if self.section == "header":
            self._header(index, item)
        elif self.section == "keys":
            self._key(index, item)
        elif self.section == "books":
            self._book(index, item)
        elif self.section == "rates":
            self._rate(index, item)
        else:
            self._allocation_set(index, item)
        self._advance()

    def _advance(self) -> None:
        """Move on once the header's count for a section is reached (2c and 2g on the way)."""
        assert self.header is not None
        keys, books, rates, allocations = preamble_counts(self.header)
        if self.section == "header":
            self.section = "keys"
        if self.section == "keys" and len(self.ledger_keys) == keys:
            self._trust()
            self.section = "books"
        if self.section == "books" and len(self.books) == books:
            self.section = "rates"
        if self.section == "rates" and len(self.rates) == rates:
            self.section = "allocations"
        if self.section == "allocations" and len(self.allocations) == allocations:
            # 2g Preamble digest
            if preamble_digest(self.items) != self.header["preamble"]:
                raise fail("preamble_mismatch", "the keys, price books, FX rates and "
                           "allocation sets are not the ones the header lists", 0)
            self.section = "done"

    def _header(self, index: int, item: bytes) -> None:
        """2a Header: envelope, content type, strict decoding, fields (signature in 2c)."""
        env, payload = open_item(index, item, cose.LEDGER_HEADER, "missing_header")
        schema(index, check_header, decoded(index, payload))
        self.header_env, self.header = env, payload

    def _key(self, index: int, item: bytes) -> None:
        """2b Public keys: fields, §4.1, the kid, no repeat, self-signed."""
        self.items.append(item)
        env, payload = open_item(index, item, cose.PUBLIC_KEY, "count_mismatch")
        schema(index, check_public_key_item, decoded(index, payload))
        try:
            key = PublicKey(payload["public_key"], payload["valid_from"], payload["valid_until"])
        except VerificationFailure as e:
            raise e.at(Position(index)) from e
        if key_id(key.raw) != payload["kid"] or env.kid != payload["kid"]:
            raise fail("bad_key", "kid does not match the public key", index)
        if key.kid in self.ledger_keys:
            raise fail("duplicate_item", "public key included twice", index)
        authenticate(index, env, payload, key, None)  # self-signed: possession of the key
        self.ledger_keys[key.kid] = key

    def _trust(self) -> None:
        """2c Trust and header: fix the trusted keys (§9.1), then authenticate the header."""
        if self.pinned:
            for given in self.pinned:
                self.trusted[given.kid] = self.ledger_keys.get(given.kid) or given
        else:
            self.trusted = dict(self.ledger_keys)
        self.trust_fixed = True
        assert self.header_env is not None
        assert self.header is not None
        authenticate(0, self.header_env, self.header, self.trusted.get(self.header_env.kid),
                     self.header["created_at"])

    def _book(self, index: int, item: bytes) -> None:
        """2d Price books: trusted kid, signature, strict decoding, fields, no repeat."""
        self.items.append(item)
        env, payload = open_item(index, item, cose.PRICE_BOOK, "count_mismatch")
        authenticate(index, env, payload, self.trusted.get(env.kid), None)
        try:
            book = PriceBook.from_payload(payload, env.payload)
        except SchemaError as e:
            raise fail("schema_violation", str(e), index) from e
        if book.id in self.books:
            raise fail("duplicate_item", "price book included twice", index)
        self.books[book.id] = book

    def _rate(self, index: int, item: bytes) -> None:
        """2e FX rates: trusted kid, signature, strict decoding, key valid at published_at,
        fields, no identical repeat."""
        self.items.append(item)
        env, payload = open_item(index, item, cose.FX_RATE, "count_mismatch")
        authenticate(index, env, payload, self.trusted.get(env.kid),
                     time_of(payload, "published_at"))
        schema(index, check_fx_rate, payload)
        rate = FxRate.from_payload(payload)
        if rate in self.rates:
            raise fail("duplicate_item", "fx rate included twice", index)
        self.rates.append(rate)

    def _allocation_set(self, index: int, item: bytes) -> None:
        """2f Allocation sets: trusted kid, signature, strict decoding, key valid at
        created_at, fields and rules, the reporting currency, no repeat."""
        self.items.append(item)
        env, payload = open_item(index, item, cose.ALLOCATION_SET, "count_mismatch")
        authenticate(index, env, payload, self.trusted.get(env.kid),
                     time_of(payload, "created_at"))
        try:
            aset = AllocationSet.from_payload(payload, env.payload)
        except SchemaError as e:
            raise fail("schema_violation", str(e), index) from e
        assert self.header is not None
        if aset.currency != self.header["reporting_currency"]:
            raise fail("schema_violation", "field 'currency': must be the ledger's reporting "
                       "currency", index)
        if aset.id in self.allocations:
            raise fail("duplicate_item", "allocation set included twice", index)
        self.allocations[aset.id] = aset
