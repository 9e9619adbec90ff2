"""Durable state behind the service: every SQL statement the service runs lives here.

Statements are SQLAlchemy Core on the SQLModel tables (the ORM's unit of work is not needed);
the append transaction itself is in :mod:`storage.append_sql`, on the raw driver connection.

Serialization of a chain (hotpath): on PostgreSQL the head row is taken with ``SELECT ... FOR
UPDATE`` (``SKIP LOCKED`` first, so a writer takes whichever chain is free and only waits when
all are busy); on SQLite the write transaction holds the database's single writer lock.
Adding a price book or FX rate locks *every* chain head, so it is ordered against all appends:
an append either ran before it (and its ``issued_at`` is earlier than the new item's time) or
after it (and sees it). That is what makes the verifier's "rate in force at ``issued_at``" rule
reproducible from the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from receipts.deployment.credentials import Agent, RoleToken
from receipts.errors import Conflict, NotFound
from receipts.issuing.receipt_builder import ChainHead
from receipts.storage.tables import (
    AgentRow,
    ChainHeadRow,
    CheckpointRow,
    FxRateRow,
    MetaRow,
    PriceBookRow,
    ReceiptRow,
    RoleTokenRow,
    table,
)
from verifier.pricing import FxRate
from verifier.schema import ZERO_HASH

META = table(MetaRow)
AGENT = table(AgentRow)
ROLE_TOKEN = table(RoleTokenRow)
HEAD = table(ChainHeadRow)
RECEIPT = table(ReceiptRow)
BOOK = table(PriceBookRow)
FX = table(FxRateRow)
CHECKPOINT = table(CheckpointRow)

PRICING_VERSION = "pricing_version"
IN_CHUNK = 400  # bind parameters per IN (...) query, below every driver's limit


# --- meta -------------------------------------------------------------------------------------


def get_meta(conn: Connection) -> dict[str, str]:
    """All facts fixed at init (issuer, reporting currency, key id, admin token hash...)."""
    return {r.key: r.value for r in conn.execute(sa.select(META.c.key, META.c.value))}


def set_meta(conn: Connection, key: str, value: str) -> None:
    """Insert or replace one fact."""
    conn.execute(sa.delete(META).where(META.c.key == key))
    conn.execute(sa.insert(META).values(key=key, value=value))


def pricing_version(conn: Connection) -> int:
    """Bumped whenever a price book or FX rate is added (workers reload their cache)."""
    value = conn.execute(sa.select(META.c.value).where(META.c.key == PRICING_VERSION)).scalar()
    return int(value or 0)


def _bump_pricing(conn: Connection) -> None:
    set_meta(conn, PRICING_VERSION, str(pricing_version(conn) + 1))


# --- agents -----------------------------------------------------------------------------------


def insert_agent(conn: Connection, agent: Agent, key_hash: bytes, now: int) -> None:
    """Store a new agent key (hash only)."""
    conn.execute(sa.insert(AGENT).values(
        id=agent.id, key_hash=key_hash, team=agent.team,
        tags_json=json.dumps(dict(agent.tags), sort_keys=True), created_at=now, revoked_at=None))


def _agent(row: Any) -> Agent:
    return Agent(row.id, row.team, json.loads(row.tags_json))


def agent_by_hash(conn: Connection, key_hash: bytes) -> Agent | None:
    """The active agent holding this key, if any."""
    row = conn.execute(sa.select(AGENT).where(AGENT.c.key_hash == key_hash,
                                              AGENT.c.revoked_at.is_(None))).first()
    return _agent(row) if row is not None else None


def active_agent(conn: Connection, agent_id: str) -> Agent | None:
    """The agent ``agent_id`` if its key is active (None: unknown or revoked)."""
    row = conn.execute(sa.select(AGENT).where(AGENT.c.id == agent_id,
                                              AGENT.c.revoked_at.is_(None))).first()
    return _agent(row) if row is not None else None


def list_agents(conn: Connection) -> list[dict[str, Any]]:
    """Every agent, revoked ones included (never their key or its hash)."""
    rows = conn.execute(sa.select(AGENT).order_by(AGENT.c.created_at, AGENT.c.id))
    return [{"id": r.id, "team": r.team, "tags": json.loads(r.tags_json),
             "created_at": r.created_at, "revoked_at": r.revoked_at} for r in rows]


def revoke_agent(conn: Connection, agent_id: str, now: int) -> None:
    """Revoke a key: from this commit on, it gets no receipt and reads nothing."""
    found = conn.execute(sa.select(AGENT.c.revoked_at).where(AGENT.c.id == agent_id)).first()
    if found is None:
        raise NotFound(f"no agent {agent_id}")
    if found.revoked_at is not None:
        raise Conflict(f"agent {agent_id} is already revoked")
    conn.execute(sa.update(AGENT).where(AGENT.c.id == agent_id).values(revoked_at=now))


# --- role tokens ------------------------------------------------------------------------------


def insert_role_token(conn: Connection, token: RoleToken, key_hash: bytes, name: str,
                      now: int) -> None:
    """Store a new role token (hash only)."""
    conn.execute(sa.insert(ROLE_TOKEN).values(
        id=token.id, key_hash=key_hash, role=token.role, team=token.team, name=name,
        created_at=now, revoked_at=None))


def role_token_by_hash(conn: Connection, key_hash: bytes) -> RoleToken | None:
    """The active role token with this hash, if any."""
    row = conn.execute(sa.select(ROLE_TOKEN.c.id, ROLE_TOKEN.c.role, ROLE_TOKEN.c.team).where(
        ROLE_TOKEN.c.key_hash == key_hash, ROLE_TOKEN.c.revoked_at.is_(None))).first()
    return RoleToken(row.id, row.role, row.team) if row is not None else None


def list_role_tokens(conn: Connection) -> list[dict[str, Any]]:
    """Every role token, revoked ones included (never the token or its hash)."""
    rows = conn.execute(sa.select(ROLE_TOKEN).order_by(ROLE_TOKEN.c.created_at,
                                                       ROLE_TOKEN.c.id))
    return [{"id": r.id, "role": r.role, "team": r.team, "name": r.name,
             "created_at": r.created_at, "revoked_at": r.revoked_at} for r in rows]


def revoke_role_token(conn: Connection, token_id: str, now: int) -> None:
    """Revoke a role token: from this commit on, it reads nothing."""
    found = conn.execute(sa.select(ROLE_TOKEN.c.revoked_at)
                         .where(ROLE_TOKEN.c.id == token_id)).first()
    if found is None:
        raise NotFound(f"no token {token_id}")
    if found.revoked_at is not None:
        raise Conflict(f"token {token_id} is already revoked")
    conn.execute(sa.update(ROLE_TOKEN).where(ROLE_TOKEN.c.id == token_id)
                 .values(revoked_at=now))


# --- chains -----------------------------------------------------------------------------------


@dataclass
class LockedHead:
    """A chain head held for an append, with the newest ``issued_at`` on that chain."""

    head: ChainHead
    last_issued_at: int
    pricing_version: int | None = None  # read with the head, when the reader did


def ensure_chains(conn: Connection, chain_ids: Sequence[str]) -> None:
    """Create head rows for chains that do not exist yet (a new chain starts empty)."""
    have = set(conn.execute(sa.select(HEAD.c.chain)).scalars())
    for chain in chain_ids:
        if chain not in have:
            conn.execute(sa.insert(HEAD).values(chain=chain, size=0, head=ZERO_HASH,
                                                last_issued_at=0))


def lock_all_chains(conn: Connection) -> int:
    """Lock every chain head (in name order, so lockers never deadlock); newest issued_at."""
    rows = conn.execute(sa.select(HEAD.c.last_issued_at).order_by(HEAD.c.chain)
                        .with_for_update()).scalars().all()
    return max(rows, default=0)


def heads(conn: Connection, only: str | None = None) -> list[ChainHead]:
    """Every chain head (sorted by chain id), or just ``only``."""
    query = sa.select(HEAD.c.chain, HEAD.c.size, HEAD.c.head).order_by(HEAD.c.chain)
    if only is not None:
        query = query.where(HEAD.c.chain == only)
    return [ChainHead(r.chain, r.size, bytes(r.head)) for r in conn.execute(query)]


# --- receipts ---------------------------------------------------------------------------------


def receipt_by_id(conn: Connection, receipt_id: str) -> tuple[str, bytes] | None:
    """(agent id, signed item) of one receipt."""
    row = conn.execute(sa.select(RECEIPT.c.agent_id, RECEIPT.c.item)
                       .where(RECEIPT.c.id == receipt_id)).first()
    return (row.agent_id, bytes(row.item)) if row is not None else None


@dataclass(frozen=True)
class ReceiptFilter:
    """Filters of ``GET /v1/receipts`` (all optional; ``since`` inclusive, ``until`` exclusive)."""

    team: str | None = None
    project: str | None = None
    provider: str | None = None
    model: str | None = None
    agent: str | None = None
    since: int | None = None
    until: int | None = None
    missing: frozenset[str] = frozenset()
    """Tag columns (``team``, ``project``) the receipt must not have (absent or empty)."""


def list_receipts(conn: Connection, flt: ReceiptFilter, after: tuple[int, str] | None,
                  limit: int, by_cost: bool = False) -> list[tuple[int, str, bytes, int | None]]:
    """One page in (issued_at, id) order: (issued_at, id, item, started_at) after ``after``.

    ``by_cost``: the most expensive first, in (cost_rank, id) descending order, the first item
    of each row then being its ``cost_rank`` (receipts without a reporting cost are left out:
    their cost is unknown)."""
    if by_cost:
        return _by_cost(conn, flt, after, limit)
    query = _filtered(sa.select(RECEIPT.c.issued_at, RECEIPT.c.id, RECEIPT.c.item,
                                RECEIPT.c.started_at), flt)
    if after is not None:
        query = query.where(sa.tuple_(RECEIPT.c.issued_at, RECEIPT.c.id) > sa.tuple_(*after))
    query = query.order_by(RECEIPT.c.issued_at, RECEIPT.c.id).limit(limit)
    return [(r.issued_at, r.id, bytes(r.item), r.started_at) for r in conn.execute(query)]


def _filtered(query: Any, flt: ReceiptFilter) -> Any:
    for column, value in (("team", flt.team), ("project", flt.project),
                          ("provider", flt.provider), ("model", flt.model),
                          ("agent_id", flt.agent)):
        if value is not None:
            query = query.where(RECEIPT.c[column] == value)
    for column in sorted(flt.missing & {"team", "project"}):
        query = query.where(sa.or_(RECEIPT.c[column].is_(None), RECEIPT.c[column] == ""))
    if flt.since is not None:
        query = query.where(RECEIPT.c.issued_at >= flt.since)
    if flt.until is not None:
        query = query.where(RECEIPT.c.issued_at < flt.until)
    return query


def _by_cost(conn: Connection, flt: ReceiptFilter, after: tuple[int, str] | None,
             limit: int) -> list[tuple[int, str, bytes, int | None]]:
    """A page of the most expensive receipts (the ``ix_receipt_cost`` index, read backwards)."""
    rank = RECEIPT.c.cost_rank
    query = _filtered(sa.select(rank, RECEIPT.c.id, RECEIPT.c.item, RECEIPT.c.started_at)
                      .where(rank.is_not(None)), flt)
    if after is not None:
        query = query.where(sa.tuple_(rank, RECEIPT.c.id) < sa.tuple_(*after))
    query = query.order_by(rank.desc(), RECEIPT.c.id.desc()).limit(limit)
    return [(r.cost_rank, r.id, bytes(r.item), r.started_at) for r in conn.execute(query)]


def chain_items(conn: Connection, chain: str, start: int, stop: int) -> list[bytes]:
    """Signed receipts of ``chain`` with ``start <= seq < stop``, in seq order."""
    rows = conn.execute(sa.select(RECEIPT.c.item).where(
        RECEIPT.c.chain == chain, RECEIPT.c.seq >= start, RECEIPT.c.seq < stop)
        .order_by(RECEIPT.c.seq))
    return [bytes(item) for item in rows.scalars()]


# --- price books, FX rates, checkpoints -------------------------------------------------------


def add_price_book(conn: Connection, book_id: bytes, payload: bytes, item: bytes,
                   effective_from: int, now: int) -> None:
    """Store a signed price book. Refused if it would change the price of a stored receipt."""
    newest = lock_all_chains(conn)
    if conn.execute(sa.select(BOOK.c.id).where(BOOK.c.id == book_id)).first() is not None:
        raise Conflict("this price book is already stored")
    if newest and effective_from <= newest:
        raise Conflict("effective_from must be later than the newest receipt: a new price "
                       "book never reprices history")
    conn.execute(sa.insert(BOOK).values(id=book_id, effective_from=effective_from,
                                        added_at=now, payload=payload, item=item))
    _bump_pricing(conn)


def price_books(conn: Connection) -> list[tuple[bytes, bytes, bytes]]:
    """(id, payload bytes, signed item) of every book, oldest first."""
    rows = conn.execute(sa.select(BOOK.c.id, BOOK.c.payload, BOOK.c.item)
                        .order_by(BOOK.c.effective_from, BOOK.c.id))
    return [(bytes(r.id), bytes(r.payload), bytes(r.item)) for r in rows]


def price_book_ids(conn: Connection) -> list[bytes]:
    """Ids of every stored book (cheap: a cache loads only the payloads it lacks)."""
    return [bytes(i) for i in conn.execute(sa.select(BOOK.c.id)).scalars()]


def price_book_payloads(conn: Connection, ids: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
    """(id, payload bytes) of the books ``ids``."""
    out: list[tuple[bytes, bytes]] = []
    for start in range(0, len(ids), IN_CHUNK):
        rows = conn.execute(sa.select(BOOK.c.id, BOOK.c.payload)
                            .where(BOOK.c.id.in_(ids[start:start + IN_CHUNK])))
        out += [(bytes(r.id), bytes(r.payload)) for r in rows]
    return out


def publication_time(conn: Connection, now: int) -> int:
    """Lock all chains and return a publication time later than every stored receipt."""
    return max(now, lock_all_chains(conn) + 1)


def add_fx_rate(conn: Connection, rate: FxRate, item: bytes) -> None:
    """Store a signed FX rate (the caller took ``published_at`` from :func:`publication_time`)."""
    conn.execute(sa.insert(FX).values(base=rate.base, quote=rate.quote, date=rate.date,
                                      rate=rate.rate, source=rate.source,
                                      published_at=rate.published_at, item=item))
    _bump_pricing(conn)


def fx_rates(conn: Connection) -> list[tuple[FxRate, bytes]]:
    """Every published rate with its signed item, in publication order."""
    rows = conn.execute(sa.select(FX).order_by(FX.c.published_at, FX.c.id))
    return [(FxRate(r.base, r.quote, r.date, r.rate, r.source, r.published_at), bytes(r.item))
            for r in rows]


def save_checkpoint(conn: Connection, chain: str, size: int, head: bytes, time: int,
                    item: bytes) -> None:
    """Keep a signed checkpoint (one per chain and size)."""
    exists = conn.execute(sa.select(CHECKPOINT.c.size).where(
        CHECKPOINT.c.chain == chain, CHECKPOINT.c.size == size)).first()
    if exists is None:
        conn.execute(sa.insert(CHECKPOINT).values(chain=chain, size=size, head=head, time=time,
                                                  item=item))


def latest_checkpoints(conn: Connection) -> dict[str, bytes]:
    """The newest stored checkpoint item of each chain."""
    newest = sa.select(CHECKPOINT.c.chain, sa.func.max(CHECKPOINT.c.size).label("size")) \
        .group_by(CHECKPOINT.c.chain).subquery()
    rows = conn.execute(sa.select(CHECKPOINT.c.chain, CHECKPOINT.c.item).join(
        newest, sa.and_(CHECKPOINT.c.chain == newest.c.chain,
                        CHECKPOINT.c.size == newest.c.size)))
    return {r.chain: bytes(r.item) for r in rows}


def iter_chain(conn_factory: Any, chain: str, size: int, page: int = 2000) -> Iterator[bytes]:
    """All receipts of ``chain`` below ``size``, paged so no transaction stays open long."""
    start = 0
    while start < size:
        stop = min(start + page, size)
        with conn_factory() as conn:
            items = chain_items(conn, chain, start, stop)
        yield from items  # a gap shows up as a verification failure, not here
        start = stop
