"""Per-process state the routes share (the opened runtime, the appender) and authentication:
who is calling, and what they may read.

Credentials and roles (the full matrix is in the README, "Roles and tokens"):

* ``admin`` (the ``ra_`` token of ``receipt init``): reads everything, manages agents, tokens,
  FX rates and policies; writes no receipt.
* ``agent`` (``rk_`` keys): writes receipts, reads its own receipts and the price books.
* ``finance`` (``rt_`` role token): reads every team's spend and receipts (and the ledger,
  agents, FX rates, budgets, alerts); writes nothing.
* ``team`` (``rt_`` role token bound to one team): reads only that team's spend, receipts,
  budgets and alerts; anything else is a 403.

What a route calls, with FastAPI's ``Depends``:

* :func:`require_reader` (alias :data:`ReaderScope`) -> :class:`ReadScope`: admin, finance or
  a team token (an agent key is a 403). ``scope.team`` is ``None`` for "every team", else the
  one team the caller may see. A query over spend, receipts, budgets or alerts passes
  ``scope.team_filter(requested_team)`` as its ``team`` (it refuses, 403 naming ``team``, a
  team token asking for another team) and checks a stored object with ``scope.sees(team)``
  (answer 404 for an object of another team, as for an agent's foreign receipt).
* :func:`require_admin` (alias :data:`AdminPrincipal`) -> :class:`Principal`: admin only
  (every write that is not a receipt: agents, tokens, FX rates, price books, policies,
  budgets).
* :func:`require_all_teams` -> :class:`Principal`: admin or finance (reads that are not split
  by team: the ledger file, agents, FX rates).
* :func:`require_approver` (alias :data:`ApproverScope`) -> :class:`ReadScope`: admin or a team
  token (finance reads, it does not decide): approving or denying a call held for approval,
  within ``scope``.

Each looks the credential up fresh (revocation is immediate) once per request. A route with a
body must authenticate before the body is read: give its router
``route_class=authenticated_first(authenticate_for(ROLE, ...))``; the dependency then reuses
what that found. Unknown and revoked credentials are one 401 (``unknown or revoked key``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from receipts.budgets.raw import Raw
from receipts.deployment import suspensions
from receipts.deployment.credentials import (
    ADMIN,
    AGENT,
    FINANCE,
    ROLE_TOKEN_PREFIX,
    TEAM,
    UNKNOWN_OR_REVOKED,
    Agent,
    Principal,
    RoleToken,
    bearer_token,
    hash_secret,
    is_admin_token,
)
from receipts.deployment.runtime import Runtime
from receipts.errors import FieldProblem, Forbidden, Unauthorized
from receipts.issuing.group_commit import Appender
from receipts.policies.gate import PolicyGate
from receipts.storage import queries as store

AGENT_CACHE_SECONDS = 30.0
"""How long a key -> agent lookup is reused on the write path. Revocation is still immediate
for writes (re-checked inside each append transaction) and reads (always looked up fresh)."""


@dataclass
class Authenticator:
    """Turns an Authorization header into a :class:`Principal`."""

    runtime: Runtime
    _cache: dict[bytes, tuple[Agent, float]] = field(default_factory=dict)
    suspended: suspensions.Suspended = field(default_factory=suspensions.Suspended)
    """Suspended agents, as of at most :data:`suspensions.CHECK_SECONDS` ago."""
    _suspensions_checked: float = -1e9

    def lookup(self, key_hash: bytes) -> Agent | None:
        """The active agent holding this key (database)."""
        with self.runtime.db.read() as conn:
            return store.agent_by_hash(conn, key_hash)

    def lookup_role_token(self, key_hash: bytes) -> RoleToken | None:
        """The active role token with this hash (database)."""
        with self.runtime.db.read() as conn:
            return store.role_token_by_hash(conn, key_hash)

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
        if token.startswith(ROLE_TOKEN_PREFIX):
            role = self.lookup_role_token(hash_secret(token))
            if role is None:
                raise Unauthorized(UNKNOWN_OR_REVOKED)
            return Principal(None, role)
        agent = self.lookup(hash_secret(token))
        if agent is None:
            raise Unauthorized(UNKNOWN_OR_REVOKED)
        return Principal(agent)

    async def writer(self, authorization: str | None) -> Agent:
        """The agent of a write request (cached lookup; admin and role tokens cannot write
        receipts; a suspended agent gets a 403 ``agent_suspended``)."""
        token = bearer_token(authorization)
        if self._admin(token) is not None:
            raise Forbidden("the admin token reads and manages; receipts are written with an "
                            "agent key")
        key_hash = hash_secret(token)
        if token.startswith(ROLE_TOKEN_PREFIX):
            role = await run_in_threadpool(self.lookup_role_token, key_hash)
            if role is None:
                raise Unauthorized(UNKNOWN_OR_REVOKED)
            raise Forbidden(f"a {role.role} token reads; receipts are written with an agent key")
        now = time.monotonic()
        cached = self._cache.get(key_hash)
        if cached is not None and now - cached[1] < AGENT_CACHE_SECONDS:
            agent = cached[0]
        else:
            found = await run_in_threadpool(self.lookup, key_hash)
            if found is None:
                self._cache.pop(key_hash, None)
                raise Unauthorized(UNKNOWN_OR_REVOKED)
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key_hash] = (found, now)
            agent = found
        if now - self._suspensions_checked >= suspensions.CHECK_SECONDS:
            self._suspensions_checked = now  # (the requests meanwhile use the view before)
            await run_in_threadpool(self._reload_suspensions)
        suspended = self.suspended.by_agent.get(agent.id)
        if suspended is not None:
            raise suspended.refusal()
        return agent

    def forget_suspensions(self) -> None:
        """Reread the suspensions at the next write (this process changed them)."""
        self._suspensions_checked = -1e9

    def _reload_suspensions(self) -> None:
        with self.runtime.db.read() as conn:
            self.suspended.current(Raw.of(conn))


AGENT_SCOPE_KEY = "receipts.agent"
PRINCIPAL_SCOPE_KEY = "receipts.principal"
"""Where the authentication run before the body is read keeps what it found (the request's
scope, shared by every Request object made for it)."""

NEEDS = {
    (ADMIN,): "this needs the admin token",
    (ADMIN, FINANCE): "this needs the admin or a finance token",
    (ADMIN, FINANCE, TEAM): "this needs the admin, a finance or a team token",
    (ADMIN, TEAM): "this needs the admin or the team's token",
}
BECAUSE = {
    AGENT: "an agent key writes receipts and reads its own",
    FINANCE: "a finance token reads; it changes nothing",
    TEAM: "a team token reads only its team's spend, receipts, budgets and alerts",
    ADMIN: "the admin token manages; receipts are written with an agent key",
}


def check_role(principal: Principal, roles: tuple[str, ...]) -> Principal:
    """``principal`` if its role is one of ``roles``, else a 403 saying what is needed."""
    if principal.role not in roles:
        needs = NEEDS.get(roles, "this needs a " + " or ".join(roles) + " credential")
        raise Forbidden(f"{needs} ({BECAUSE[principal.role]})")
    return principal


def principal_of(request: Request) -> Principal:
    """The caller (any valid credential; 401 otherwise), looked up once per request."""
    principal: Principal | None = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if principal is None:
        principal = context(request).auth.principal_fresh(request.headers.get("authorization"))
        request.scope[PRINCIPAL_SCOPE_KEY] = principal
    return principal


@dataclass(frozen=True)
class ReadScope:
    """What a reader may see: every team (``team`` None) or only ``team``."""

    principal: Principal
    team: str | None

    def sees(self, team: str | None) -> bool:
        """Whether an object of ``team`` (a receipt's, a budget's scope team) is visible."""
        return self.team is None or team == self.team

    def team_filter(self, requested: str | None, field: str = "team") -> str | None:
        """The ``team`` a query runs with: what was asked for (None: every team), or, for a
        team token, its own team (asking for another is a 403 naming ``field``)."""
        if self.team is None:
            return requested
        if requested is not None and requested != self.team:
            raise Forbidden(f"a team token reads only team {self.team!r}",
                            [FieldProblem(field, f"this token reads only {self.team!r}")])
        return self.team


def scope_of(principal: Principal) -> ReadScope:
    """The read scope of an admin, finance or team principal."""
    return ReadScope(principal, principal.team if principal.role == TEAM else None)


def require_roles(*roles: str) -> Callable[[Request], Principal]:
    """A dependency passing only ``roles`` (403 otherwise; 401 for no valid credential)."""

    def dependency(request: Request) -> Principal:
        return check_role(principal_of(request), roles)

    return dependency


require_admin = require_roles(ADMIN)
"""Admin only: every write that is not a receipt (agents, tokens, rates, books, policies)."""
require_all_teams = require_roles(ADMIN, FINANCE)
"""Admin or finance: reads that are not split by team (the ledger file, agents, FX rates)."""
_reader = require_roles(ADMIN, FINANCE, TEAM)
_approver = require_roles(ADMIN, TEAM)


def require_reader(request: Request) -> ReadScope:
    """Admin, finance or team token -> its :class:`ReadScope` (an agent key is a 403)."""
    return scope_of(_reader(request))


def require_approver(request: Request) -> ReadScope:
    """Admin or team token -> the scope it may decide within (finance and agents: 403)."""
    return scope_of(_approver(request))


ReaderScope = Annotated[ReadScope, Depends(require_reader)]
ApproverScope = Annotated[ReadScope, Depends(require_approver)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
AllTeamsPrincipal = Annotated[Principal, Depends(require_all_teams)]


def authenticate_for(*roles: str) -> Callable[[Request], Awaitable[None]]:
    """Authentication run before a body is read (``authenticated_first``): 401 for no valid
    credential, 403 for a role not in ``roles``; keeps the principal for the dependencies."""

    async def authenticate(request: Request) -> None:
        principal = await run_in_threadpool(context(request).auth.principal_fresh,
                                            request.headers.get("authorization"))
        check_role(principal, roles)
        request.scope[PRINCIPAL_SCOPE_KEY] = principal

    return authenticate


async def authenticate_writer(request: Request) -> None:
    """The agent writing receipts (401 unknown or revoked, 403 for the admin or a role token)."""
    agent = await context(request).auth.writer(request.headers.get("authorization"))
    request.scope[AGENT_SCOPE_KEY] = agent


authenticate_admin = authenticate_for(ADMIN)
"""The admin token, looked up fresh (401 unknown, 403 for any other credential)."""


@dataclass
class AppContext:
    """Everything a route needs."""

    runtime: Runtime
    appender: Appender
    auth: Authenticator
    policies: PolicyGate


def context(request: Request) -> AppContext:
    """The app's context (set by the lifespan)."""
    ctx: AppContext = request.app.state.ctx
    return ctx
