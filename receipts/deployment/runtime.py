"""Making and opening a deployment: the data directory, key, database and fixed facts.

``receipt init`` calls :func:`initialize`; every other service command calls :func:`open_runtime`,
which refuses to go on when the signing key is not the one the database was initialised with
(signing with another key would produce receipts no exported ledger could verify).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from receipts.api.admin_schemas import RATE_PATTERN
from receipts.api.tag_keys import TAG_KEY_RULE, is_tag_key
from receipts.clock import now_ms
from receipts.deployment.credentials import (
    ADMIN_TOKEN_PREFIX,
    AGENT_KEY_PREFIX,
    Agent,
    hash_secret,
    new_agent_id,
    new_secret,
)
from receipts.deployment.settings import Settings
from receipts.deployment.signing_key import PRIVATE_KEY_FILE, Signer, load_signer, write_key_pair
from receipts.errors import ConfigError, FieldProblem, Invalid, KeyFileError, NotInitialized
from receipts.issuing.service import ReceiptService
from receipts.pricing.books import shipped_price_book
from receipts.pricing.currencies import is_currency
from receipts.spend import rebuild as spend_rebuild
from receipts.storage import queries as store
from receipts.storage.database import Database
from receipts.storage.ledger_file import fx_rate_item, price_book_item
from verifier.money import FX_RATE_SCALE, format_amount, parse_amount
from verifier.pricing import FxRate, PriceBook, latest_book

if TYPE_CHECKING:
    from receipts.pricing.book_update import BuiltBook

ISSUER = "issuer"
REPORTING_CURRENCY = "reporting_currency"
KEY_ID = "kid"
KEY_VALID_FROM = "key_valid_from"
ADMIN_HASH = "admin_token_sha256"

GENAI_BOOK = "genai"
SHIPPED_BOOK = "shipped"
PRICE_BOOK_CHOICES = (GENAI_BOOK, SHIPPED_BOOK)
"""What ``receipt init`` seeds: a snapshot of the installed genai-prices data (thousands of
models, their aliases and platform spellings), or the small shipped book (a dozen models,
fixed prices: deterministic tests and examples)."""


@dataclass(frozen=True)
class Facts:
    """What ``receipt init`` fixed for the life of the ledger."""

    issuer: str
    reporting_currency: str
    kid: bytes
    key_valid_from: int
    admin_hash: bytes


@dataclass(frozen=True)
class InitResult:
    """What ``receipt init`` made (the admin token is shown once, then only its hash exists)."""

    private_key: Path
    public_key: Path
    db_url: str
    admin_token: str
    signer: Signer
    facts: Facts
    book: PriceBook


def _secure_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # noqa: PTH101 - the directory holds the private key


def _check_dir(path: Path) -> None:
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(f"{path} is writable by others; run: chmod 700 {path}")


def ms_datetime(ms: int) -> dt.datetime:
    """An instant in the format's unit (epoch ms) as an aware UTC datetime, exactly."""
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)


def initial_price_book(choice: str, now: int) -> tuple[bytes, PriceBook]:
    """The book ``receipt init`` seeds (payload bytes and index).

    The genai-prices snapshot takes effect at ``now`` (the moment of init), so it prices every
    receipt the deployment will issue until ``receipt prices update`` stores a newer one.
    """
    if choice == SHIPPED_BOOK:
        return shipped_price_book()
    if choice != GENAI_BOOK:
        raise ConfigError(f"price book must be one of {', '.join(PRICE_BOOK_CHOICES)}, "
                          f"not {choice!r}")
    from receipts.pricing.book_update import make_book

    built = make_book(ms_datetime(now))
    return built.payload_bytes, built.book


def initialize(settings: Settings, *, issuer: str, reporting_currency: str,
               price_book: str = GENAI_BOOK) -> InitResult:
    """Make the key, the database, the admin token and seed the first price book."""
    if price_book not in PRICE_BOOK_CHOICES:
        raise ConfigError(f"price book must be one of {', '.join(PRICE_BOOK_CHOICES)}, "
                          f"not {price_book!r}")
    if not is_currency(reporting_currency):
        raise ConfigError(f"reporting currency must be an ISO 4217 code, not "
                          f"{reporting_currency!r}")
    if not issuer or len(issuer) > 256:
        raise ConfigError("issuer must be 1..256 characters")
    if (settings.data_dir / PRIVATE_KEY_FILE).exists():
        raise KeyFileError(f"{settings.data_dir / PRIVATE_KEY_FILE} already exists; refusing "
                           "to overwrite a signing key")
    _secure_dir(settings.data_dir)
    db = Database(settings.db_url)
    try:
        if db.has_schema():
            with db.read() as conn:
                if store.get_meta(conn).get(KEY_ID):
                    raise ConfigError("this database is already initialised (by another key); "
                                      "use a new database")
        now = now_ms()
        book_bytes, book = initial_price_book(price_book, now)
        signer, private_path, public_path = write_key_pair(settings.data_dir)
        admin_token = new_secret(ADMIN_TOKEN_PREFIX)
        db.create_schema()
        with db.write() as conn:
            for key, value in ((ISSUER, issuer), (REPORTING_CURRENCY, reporting_currency),
                               (KEY_ID, signer.kid.hex()), (KEY_VALID_FROM, str(now)),
                               (ADMIN_HASH, hash_secret(admin_token).hex())):
                store.set_meta(conn, key, value)
            store.ensure_chains(conn, settings.chain_ids)
            spend_rebuild.mark_current(conn)
            store.add_price_book(conn, book.id, book_bytes,
                                 price_book_item(signer, book_bytes), book.effective_from, now)
            facts = _facts(store.get_meta(conn))
    finally:
        db.dispose()
    return InitResult(private_path, public_path, settings.db_url, admin_token, signer, facts,
                      book)


def _facts(meta: dict[str, str]) -> Facts:
    try:
        return Facts(meta[ISSUER], meta[REPORTING_CURRENCY], bytes.fromhex(meta[KEY_ID]),
                     int(meta[KEY_VALID_FROM]), bytes.fromhex(meta[ADMIN_HASH]))
    except KeyError as e:
        raise NotInitialized(f"the database lacks {e.args[0]}: run receipt init") from None


@dataclass
class Runtime:
    """An opened deployment: settings, database, signer, fixed facts and the append service."""

    settings: Settings
    db: Database
    signer: Signer
    facts: Facts
    service: ReceiptService

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()


def open_runtime(settings: Settings) -> Runtime:
    """Open an initialised deployment, refusing a key that does not match the database."""
    key_path = settings.data_dir / PRIVATE_KEY_FILE
    if not key_path.exists():
        raise NotInitialized(f"no signing key at {key_path}: run receipt init "
                             f"--data {settings.data_dir}")
    _check_dir(settings.data_dir)
    signer = load_signer(key_path)
    db = Database(settings.db_url)
    try:
        if not db.has_schema():
            raise NotInitialized("the database has no receipts tables: run receipt init")
        db.create_schema()  # tables added by a newer version (alerts, budgets...) appear here
        with db.read() as conn:
            facts = _facts(store.get_meta(conn))
        if facts.kid != signer.kid:
            raise KeyFileError(f"{key_path} is not the key this database was initialised with "
                               f"(kid {facts.kid.hex()}); refusing to sign")
        spend_rebuild.ensure_current(db)  # a database older than the spend aggregates
        with db.write() as conn:
            store.ensure_chains(conn, settings.chain_ids)
    except BaseException:
        db.dispose()
        raise
    service = ReceiptService(db, signer, issuer=facts.issuer,
                             reporting_currency=facts.reporting_currency,
                             chain_ids=settings.chain_ids,
                             checkpoint_every=settings.checkpoint_every)
    return Runtime(settings, db, signer, facts, service)


def create_agent(runtime: Runtime, team: str, tags: dict[str, str]) -> tuple[Agent, str]:
    """A new agent key bound to ``team`` and ``tags``; returns the key (shown once)."""
    if not team or len(team) > 256:
        raise ConfigError("team must be 1..256 characters")
    for k, v in tags.items():
        if not is_tag_key(k):
            raise ConfigError(f"tag name {k!r}: must be {TAG_KEY_RULE}")
        if len(v) > 256 or "\x00" in v:
            raise ConfigError(f"tag {k!r}: values are at most 256 characters, without NUL")
        if k == "team" and v != team:
            raise ConfigError("the team tag is set by --team")
    agent = Agent(new_agent_id(), team, {k: v for k, v in tags.items() if k != "team"})
    key = new_secret(AGENT_KEY_PREFIX)
    with runtime.db.write() as conn:
        store.insert_agent(conn, agent, hash_secret(key), now_ms())
    return agent, key


def store_price_book(runtime: Runtime, build: Callable[[dt.datetime], BuiltBook],
                     at: dt.datetime | None = None) -> BuiltBook:
    """Build a book with ``build(instant)``, sign it with the service key and store it.

    With ``at`` the book takes effect then, and is refused if a stored receipt is as recent
    (it would reprice history). Without it the book takes effect now: if receipts were issued
    while it was being built (a busy service), it is rebuilt for a time after the newest of
    them while every chain is locked, so no receipt can slip in between. Running services
    load it at their next append (the pricing version changes).
    """
    built = build(at or ms_datetime(now_ms()))
    with runtime.db.write() as conn:
        newest = store.lock_all_chains(conn)
        if at is None and built.book.effective_from <= newest:
            built = build(ms_datetime(store.publication_time(conn, now_ms())))
        store.add_price_book(conn, built.book.id, built.payload_bytes,
                             price_book_item(runtime.signer, built.payload_bytes),
                             built.book.effective_from, now_ms())
    return built


_RATE = re.compile(RATE_PATTERN)
MAX_STORED_RATE = 2**63 - 1
"""The largest FX rate (10^-9 units) the database's signed 64-bit integer column holds."""


def _check_date(date: str) -> None:
    try:
        if len(date) != 10:
            raise ValueError
        dt.date.fromisoformat(date)
    except ValueError:
        raise Invalid(f"date {date!r} is not YYYY-MM-DD",
                      [FieldProblem("date", "must be YYYY-MM-DD")]) from None


def publish_fx_rate(runtime: Runtime, date: str, rate_text: str, *, base: str | None = None,
                    quote: str | None = None, source: str = "manual") -> FxRate:
    """Sign and store the rate for ``date``: ``rate_text`` units of ``quote`` per ``base``.

    What ``PUT /v1/fx/{date}`` and ``receipt fx set`` both run. ``quote`` must be the
    reporting currency (receipts convert only to it); ``base`` defaults to the currency of the
    book in force now. The rate is exact (a decimal with at most 9 decimals) and published
    after every stored receipt, so no receipt already issued could have used it.
    """
    _check_date(date)
    if not _RATE.match(rate_text) or len(rate_text) > 32:
        raise Invalid(f"rate {rate_text!r} is not a decimal with at most 9 decimals",
                      [FieldProblem("rate", "must be a decimal string such as 0.79 (at most 9 "
                                            "decimals; no exponent, sign or float)")])
    value = parse_amount(rate_text, FX_RATE_SCALE)
    if value == 0:
        raise Invalid("the rate must be positive", [FieldProblem("rate", "must be positive")])
    if value > MAX_STORED_RATE:  # (no currency pair comes near: this is mistyped input)
        largest = format_amount(MAX_STORED_RATE, FX_RATE_SCALE)
        raise Invalid(f"rate {rate_text} is past the largest rate the ledger stores ({largest})",
                      [FieldProblem("rate", f"must be at most {largest}")])
    reporting = runtime.facts.reporting_currency
    for name, ccy in (("base", base), ("quote", quote)):
        if ccy is not None and not is_currency(ccy):
            raise Invalid(f"{name} {ccy!r} is not an ISO 4217 currency code",
                          [FieldProblem(name, "must be an ISO 4217 currency code such as USD")])
    quote = quote or reporting
    if quote != reporting:
        raise Invalid(f"receipts convert to the reporting currency {reporting}, not {quote}",
                      [FieldProblem("quote", f"receipts convert to the reporting currency "
                                             f"{reporting}")])
    if not source or len(source) > 256:
        raise Invalid("source must be 1..256 characters",
                      [FieldProblem("source", "must be 1..256 characters")])
    with runtime.db.write() as conn:
        runtime.service.pricing.refresh(conn)
        books = runtime.service.pricing.books
        if base is None:
            book = latest_book(books, now_ms())
            base = book.currency if book else "USD"
        if base == quote:
            raise Invalid(f"the price books are in {base}, the reporting currency too: no "
                          "rate is needed", [FieldProblem("base", "must differ from quote")])
        priced_in = sorted({b.currency for b in books})
        if base not in priced_in:  # (a receipt converts from its book's currency, spec §5.4)
            raise Invalid(f"no price book is in {base}: no receipt would use this rate",
                          [FieldProblem("base", "must be the currency of a price book ("
                                                + ", ".join(priced_in) + ")")])
        rate = FxRate(base, quote, date, value, source, store.publication_time(conn, now_ms()))
        store.add_fx_rate(conn, rate, fx_rate_item(runtime.signer, rate))
    return rate
