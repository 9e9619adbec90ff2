"""Who is looking at the dashboard: sign-in, sign-out and the viewer of each page.

Sign-in takes the same tokens as the API and applies the same rules: the token is checked by
the API's :class:`~receipts.api.dependencies.Authenticator`, an agent key is refused (agents
write receipts, people read spend), and every page re-checks the token behind its session, so
a revoked token stops working at the next click. What a viewer may see is the API's own
:class:`~receipts.api.dependencies.ReadScope`: the dashboard is no way around it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from receipts.api.dependencies import ReadScope, check_role, context, scope_of
from receipts.clock import now_ms
from receipts.dashboard import sessions
from receipts.deployment.credentials import (
    ADMIN,
    FINANCE,
    TEAM,
    UNKNOWN_OR_REVOKED,
    Principal,
    hash_secret,
)
from receipts.errors import Forbidden, Invalid, Unauthorized
from receipts.storage import queries as store

READERS = (ADMIN, FINANCE, TEAM)
MAX_FORM_BYTES = 4096


@dataclass(frozen=True)
class Viewer:
    """A signed-in person: the scope of what they may read and the CSRF value of their forms."""

    scope: ReadScope
    csrf: str
    session_id: str

    @property
    def label(self) -> str:
        """How the header names the viewer."""
        principal = self.scope.principal
        return f"team {principal.team}" if principal.role == TEAM else principal.role


async def form_fields(request: Request) -> dict[str, str]:
    """A small ``application/x-www-form-urlencoded`` body (the sign-in and sign-out forms)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Invalid("form too large")
    try:
        parsed = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise Invalid("the form is not UTF-8") from None
    return {name: values[0] for name, values in parsed.items()}


def same_origin(request: Request) -> None:
    """Refuse a form posted from another site (a CSRF defence beside the token): when the
    browser names the origin, it must be this host."""
    origin = request.headers.get("origin")
    if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
        raise Forbidden("cross-site form refused")


def principal_for_hash(request: Request, token_hash: bytes) -> Principal:
    """The principal whose token has this hash, if it is still valid (401 otherwise)."""
    runtime = context(request).runtime
    if hmac.compare_digest(token_hash, runtime.facts.admin_hash):
        return Principal(None)
    with runtime.db.read() as conn:
        role = store.role_token_by_hash(conn, token_hash)
    if role is None:
        raise Unauthorized(UNKNOWN_OR_REVOKED)
    return Principal(None, role)


def sign_in(request: Request, token: str) -> str:
    """Check ``token`` as the API would and open a session; returns the session cookie."""
    auth = context(request).auth
    principal = auth.principal_fresh(f"Bearer {token.strip()}")
    check_role(principal, READERS)
    with context(request).runtime.db.write() as conn:
        return sessions.open_session(conn, hash_secret(token.strip()), now_ms())


def _viewer(request: Request) -> Viewer:
    session_id = request.cookies.get(sessions.SESSION_COOKIE)
    with context(request).runtime.db.read() as conn:
        found = sessions.find_session(conn, session_id, now_ms())
    if found is None or session_id is None:
        raise Unauthorized("sign in")
    principal = principal_for_hash(request, found.token_hash)
    return Viewer(scope_of(check_role(principal, READERS)), found.csrf, session_id)


async def viewer_of(request: Request) -> Viewer:
    """The signed-in viewer of a page (401: show the sign-in form)."""
    return await run_in_threadpool(_viewer, request)


def sign_out(request: Request, session_id: str) -> None:
    """End a session."""
    with context(request).runtime.db.write() as conn:
        sessions.close_session(conn, session_id)
