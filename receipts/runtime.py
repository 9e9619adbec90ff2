"""Making and opening a deployment: the data directory, key, database and fixed facts.

``receipt init`` calls :func:`initialize`; every other service command calls :func:`open_runtime`,
which refuses to go on when the signing key is not the one the database was initialised with
(signing with another key would produce receipts no exported ledger could verify).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from receipts import store
from receipts.auth import (
    ADMIN_TOKEN_PREFIX,
    AGENT_KEY_PREFIX,
    Agent,
    hash_secret,
    new_agent_id,
    new_secret,
)
from receipts.config import Settings
from receipts.db import Database
from receipts.errors import ConfigError, KeyFileError, NotInitialized
from receipts.ledger import price_book_item
from receipts.pricebooks import shipped_price_book
from receipts.service import ReceiptService, now_ms
from receipts.signing import PRIVATE_KEY_FILE, Signer, load_signer, write_key_pair
from verifier.schema import check_currency

ISSUER = "issuer"
REPORTING_CURRENCY = "reporting_currency"
KEY_ID = "kid"
KEY_VALID_FROM = "key_valid_from"
ADMIN_HASH = "admin_token_sha256"


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


def _secure_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # noqa: PTH101 - the directory holds the private key


def _check_dir(path: Path) -> None:
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(f"{path} is writable by others; run: chmod 700 {path}")


def initialize(settings: Settings, *, issuer: str, reporting_currency: str) -> InitResult:
    """Make the key, the database, the admin token and seed the shipped price book."""
    try:
        check_currency({"c": reporting_currency}, "c")
    except Exception:
        raise ConfigError(f"reporting currency must be an ISO 4217 code, not "
                          f"{reporting_currency!r}") from None
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
        signer, private_path, public_path = write_key_pair(settings.data_dir)
        admin_token = new_secret(ADMIN_TOKEN_PREFIX)
        now = now_ms()
        db.create_schema()
        book_bytes, book = shipped_price_book()
        with db.write() as conn:
            for key, value in ((ISSUER, issuer), (REPORTING_CURRENCY, reporting_currency),
                               (KEY_ID, signer.kid.hex()), (KEY_VALID_FROM, str(now)),
                               (ADMIN_HASH, hash_secret(admin_token).hex())):
                store.set_meta(conn, key, value)
            store.ensure_chains(conn, settings.chain_ids)
            store.add_price_book(conn, book.id, book_bytes,
                                 price_book_item(signer, book_bytes), book.effective_from, now)
            facts = _facts(store.get_meta(conn))
    finally:
        db.dispose()
    return InitResult(private_path, public_path, settings.db_url, admin_token, signer, facts)


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
        with db.read() as conn:
            facts = _facts(store.get_meta(conn))
        if facts.kid != signer.kid:
            raise KeyFileError(f"{key_path} is not the key this database was initialised with "
                               f"(kid {facts.kid.hex()}); refusing to sign")
        with db.write() as conn:
            store.ensure_chains(conn, settings.chain_ids)
    except BaseException:
        db.dispose()
        raise
    service = ReceiptService(db, signer, issuer=facts.issuer,
                             reporting_currency=facts.reporting_currency,
                             chain_ids=settings.chain_ids,
                             checkpoint_every=settings.checkpoint_every,
                             unsigned_baseline=settings.unsigned_baseline)
    return Runtime(settings, db, signer, facts, service)


def create_agent(runtime: Runtime, team: str, tags: dict[str, str]) -> tuple[Agent, str]:
    """A new agent key bound to ``team`` and ``tags``; returns the key (shown once)."""
    if not team or len(team) > 256:
        raise ConfigError("team must be 1..256 characters")
    for k, v in tags.items():
        if not k or len(k) > 64 or len(v) > 256:
            raise ConfigError(f"tag {k!r}: names are 1..64 characters, values at most 256")
        if k == "team" and v != team:
            raise ConfigError("the team tag is set by --team")
    agent = Agent(new_agent_id(), team, {k: v for k, v in tags.items() if k != "team"})
    key = new_secret(AGENT_KEY_PREFIX)
    with runtime.db.write() as conn:
        store.insert_agent(conn, agent, hash_secret(key), now_ms())
    return agent, key
