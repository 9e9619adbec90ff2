"""Making role tokens: read-only credentials for finance (every team) or one team.

What ``receipt token create`` and ``POST /v1/tokens`` both run. The token is returned once and
only its SHA-256 is stored, like an agent key (:mod:`receipts.deployment.credentials`).
"""

from __future__ import annotations

from receipts.clock import now_ms
from receipts.deployment.credentials import (
    FINANCE,
    ROLE_TOKEN_PREFIX,
    TEAM,
    TOKEN_ROLES,
    RoleToken,
    hash_secret,
    new_secret,
    new_token_id,
)
from receipts.deployment.runtime import Runtime
from receipts.errors import FieldProblem, Invalid
from receipts.storage import queries as store

MAX_TEXT = 256


def _invalid(field: str, reason: str) -> Invalid:
    return Invalid(f"{field}: {reason}", [FieldProblem(field, reason)])


def check_role_token(role: str, team: str | None, name: str) -> None:
    """Refuse a role/team pair that makes no sense (422 naming the field)."""
    if role not in TOKEN_ROLES:
        raise _invalid("role", f"must be one of {', '.join(TOKEN_ROLES)}")
    if role == TEAM and not team:
        raise _invalid("team", "a team token names its team")
    if role == FINANCE and team is not None:
        raise _invalid("team", "a finance token reads every team; it takes no team")
    for field, value in (("team", team or ""), ("name", name)):
        if len(value) > MAX_TEXT or "\x00" in value:
            raise _invalid(field, f"at most {MAX_TEXT} characters, without NUL")


def create_role_token(runtime: Runtime, role: str, team: str | None = None,
                      name: str = "") -> tuple[RoleToken, str]:
    """A new role token; returns it and its secret (shown once, stored only as a hash)."""
    check_role_token(role, team, name)
    token = RoleToken(new_token_id(), role, team if role == TEAM else None)
    secret = new_secret(ROLE_TOKEN_PREFIX)
    with runtime.db.write() as conn:
        store.insert_role_token(conn, token, hash_secret(secret), name, now_ms())
    return token, secret


def revoke_role_token(runtime: Runtime, token_id: str) -> None:
    """Revoke a role token now (404 unknown, 409 already revoked)."""
    with runtime.db.write() as conn:
        store.revoke_role_token(conn, token_id, now_ms())
