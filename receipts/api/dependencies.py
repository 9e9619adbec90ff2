"""Per-process state the routes share: the opened runtime, the appender and authentication."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from receipts.deployment.credentials import (
    UNKNOWN_OR_REVOKED,
    Agent,
    Principal,
    bearer_token,
    hash_secret,
    is_admin_token,
)
from receipts.deployment.runtime import Runtime
from receipts.errors import Forbidden, Unauthorized
from receipts.issuing.group_commit import Appender
from receipts.storage import queries as store

AGENT_CACHE_SECONDS = 30.0
"""How long a key -> agent lookup is reused on the write path. Revocation is still immediate
for writes (re-checked inside each append transaction) and reads (always looked up fresh)."""


@dataclass
class Authenticator:
    """Turns an Authorization header into a :class:`Principal`."""

    runtime: Runtime
    _cache: dict[bytes, tuple[Agent, float]] = field(default_factory=dict)

    def lookup(self, key_hash: bytes) -> Agent | None:
        """The active agent holding this key (database)."""
        with self.runtime.db.read() as conn:
            return store.agent_by_hash(conn, key_hash)

    def _admin(self, token: str) -> Principal | None:
        if is_admin_token(token, self.runtime.facts.admin_hash):
            return Principal(None)
        return None

    def principal_fresh(self, authorization: str | None) -> Principal:
        """Authenticate against the database now (read endpoints; run on a thread)."""
        token = bearer_token(authorization)
        admin = self._admin(token)
        if admin is not None:
            return admin
        agent = self.lookup(hash_secret(token))
        if agent is None:
            raise Unauthorized(UNKNOWN_OR_REVOKED)
        return Principal(agent)

    async def writer(self, authorization: str | None) -> Agent:
        """The agent of a write request (cached lookup; admin tokens cannot write receipts)."""
        token = bearer_token(authorization)
        if self._admin(token) is not None:
            raise Forbidden("the admin token reads and manages; receipts are written with an "
                            "agent key")
        key_hash = hash_secret(token)
        now = time.monotonic()
        cached = self._cache.get(key_hash)
        if cached is not None and now - cached[1] < AGENT_CACHE_SECONDS:
            return cached[0]
        agent = await run_in_threadpool(self.lookup, key_hash)
        if agent is None:
            self._cache.pop(key_hash, None)
            raise Unauthorized(UNKNOWN_OR_REVOKED)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[key_hash] = (agent, now)
        return agent


AGENT_SCOPE_KEY = "receipts.agent"
PRINCIPAL_SCOPE_KEY = "receipts.principal"
"""Where the authentication run before the body is read keeps what it found (the request's
scope, shared by every Request object made for it)."""


async def authenticate_writer(request: Request) -> None:
    """The agent writing receipts (401 unknown or revoked, 403 for the admin token)."""
    agent = await context(request).auth.writer(request.headers.get("authorization"))
    request.scope[AGENT_SCOPE_KEY] = agent


async def authenticate_admin(request: Request) -> None:
    """The admin token, looked up fresh (401 unknown, 403 for an agent key)."""
    principal = await run_in_threadpool(context(request).auth.principal_fresh,
                                        request.headers.get("authorization"))
    if not principal.is_admin:
        raise Forbidden("this needs the admin token")
    request.scope[PRINCIPAL_SCOPE_KEY] = principal


@dataclass
class AppContext:
    """Everything a route needs."""

    runtime: Runtime
    appender: Appender
    auth: Authenticator


def context(request: Request) -> AppContext:
    """The app's context (set by the lifespan)."""
    ctx: AppContext = request.app.state.ctx
    return ctx
