"""Browser sessions for the dashboard: a cookie instead of a bearer header, and CSRF tokens.

Why a server-side session and not the token in the browser: the token would then sit in
JavaScript-readable storage or in URLs (and so in history and access logs). Here the token is
posted once, in a form body, and exchanged for a random session id in a cookie that scripts
cannot read (``HttpOnly``), that other sites' requests do not carry (``SameSite=Strict``) and
that is ``Secure`` whenever the page was reached over HTTPS. Only hashes are stored.

CSRF: every state-changing request (sign-in, sign-out) posts a token that a cross-site page
cannot know: for sign-in, a random value set as a cookie with the form and repeated in the
form (double submit); for a signed-in session, the session's own ``csrf`` value.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from receipts.dashboard.tables import DashboardSessionRow
from receipts.storage.tables import table

SESSION = table(DashboardSessionRow)
SESSION_COOKIE = "receipts_session"
LOGIN_CSRF_COOKIE = "receipts_login_csrf"
COOKIE_PATH = "/dashboard"
SESSION_MS = 8 * 3600 * 1000
"""A working day: long enough not to interrupt a review, short enough that a forgotten laptop
does not stay signed in for good."""


@dataclass(frozen=True)
class Session:
    """A live session: which token signed in, and the CSRF value its forms must post."""

    token_hash: bytes
    csrf: str


def _digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def new_token() -> str:
    """A random value for a session id or a CSRF token."""
    return secrets.token_urlsafe(32)


def same_token(presented: str | None, expected: str) -> bool:
    """Constant-time comparison of a posted CSRF token (None never matches)."""
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def open_session(conn: Connection, token_hash: bytes, now: int) -> str:
    """Store a new session for the token whose hash is ``token_hash``; returns the cookie."""
    session_id = new_token()
    conn.execute(sa.insert(SESSION).values(
        id_hash=_digest(session_id), token_hash=token_hash, csrf=new_token(),
        created_at=now, expires_at=now + SESSION_MS))
    conn.execute(sa.delete(SESSION).where(SESSION.c.expires_at < now))
    return session_id


def find_session(conn: Connection, session_id: str | None, now: int) -> Session | None:
    """The live session of a cookie, or None (absent, unknown or expired)."""
    if not session_id:
        return None
    row = conn.execute(sa.select(SESSION.c.token_hash, SESSION.c.csrf).where(
        SESSION.c.id_hash == _digest(session_id), SESSION.c.expires_at >= now)).first()
    return Session(row.token_hash, row.csrf) if row is not None else None


def close_session(conn: Connection, session_id: str) -> None:
    """Sign out: the cookie stops working at once."""
    conn.execute(sa.delete(SESSION).where(SESSION.c.id_hash == _digest(session_id)))
