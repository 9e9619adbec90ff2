"""Credentials: agent API keys, role tokens and the admin token, stored only as hashes, and
bound tags.

Keys are 256-bit random secrets, so a single SHA-256 is the right stored form: there is nothing
to brute-force, and a lookup by hash costs one index probe instead of a deliberately slow KDF
per request. The secret itself is shown once (``receipt agent create`` / ``receipt init``) and
never stored or logged.

Role tokens (``receipt token create``) read without writing: ``finance`` reads every team's
spend and receipts, ``team`` reads one team's only. They are kept apart from agent keys (their
own prefix and table) because they carry no binding and may never write a receipt.

An agent's team and tags are *bound*: they are forced into every receipt it gets, and a body
that names a different value is refused (403), so no team can charge another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from receipts.errors import FieldProblem, Forbidden, Unauthorized

AGENT_KEY_PREFIX = "rk_"
ADMIN_TOKEN_PREFIX = "ra_"  # noqa: S105 - a prefix, not a secret
ROLE_TOKEN_PREFIX = "rt_"  # noqa: S105 - a prefix, not a secret
UNKNOWN_OR_REVOKED = "unknown or revoked key"
"""The one answer (401) to a key that matches no active agent, whether it never existed or was
revoked: telling them apart would confirm to whoever holds a key that it was once valid."""


def new_secret(prefix: str) -> str:
    """A fresh random credential (32 bytes of entropy) with a recognisable prefix."""
    return prefix + secrets.token_urlsafe(32)


def new_agent_id() -> str:
    """A public agent id: what receipts record in ``agent`` (never the key)."""
    return "agt_" + secrets.token_hex(8)


def new_token_id() -> str:
    """A public role token id: what ``receipt token list`` shows and ``revoke`` takes."""
    return "tok_" + secrets.token_hex(8)


def hash_secret(secret: str) -> bytes:
    """The stored form of a credential."""
    return hashlib.sha256(secret.encode()).digest()


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer ...`` header (401 when absent or malformed)."""
    if not authorization:
        raise Unauthorized("missing Authorization: Bearer <key> header")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header must be 'Bearer <key>'")
    return token


def is_admin_token(token: str, admin_hash: bytes) -> bool:
    """Constant-time comparison of a presented token with the stored admin hash."""
    return token.startswith(ADMIN_TOKEN_PREFIX) and hmac.compare_digest(
        hash_secret(token), admin_hash)


@dataclass(frozen=True)
class Agent:
    """An active agent key's identity and its bound team and tags."""

    id: str
    team: str
    tags: Mapping[str, str] = field(default_factory=dict)

    def bound(self) -> dict[str, str]:
        """The tags forced into every receipt of this agent (``team`` included)."""
        return {**self.tags, "team": self.team}


ADMIN = "admin"
AGENT = "agent"
FINANCE = "finance"
TEAM = "team"
TOKEN_ROLES = (FINANCE, TEAM)
"""The roles a role token can have (the admin token and agent keys are made otherwise)."""


@dataclass(frozen=True)
class RoleToken:
    """An active role token: ``finance`` (``team`` None) or ``team`` (limited to ``team``)."""

    id: str
    role: str
    team: str | None = None


@dataclass(frozen=True)
class Principal:
    """Who is calling: an agent, a role token, or the admin (neither).

    ``role`` is one of ``admin``, ``agent``, ``finance``, ``team``. ``team`` is the one team a
    ``team`` token reads, None for every other role (an agent's own team is ``agent.team``: an
    agent reads its own receipts, not its team's).
    """

    agent: Agent | None
    token: RoleToken | None = None

    @property
    def role(self) -> str:
        """``admin``, ``agent``, ``finance`` or ``team``."""
        if self.agent is not None:
            return AGENT
        return self.token.role if self.token is not None else ADMIN

    @property
    def team(self) -> str | None:
        """The team a ``team`` token is limited to (None: not a team token)."""
        return self.token.team if self.token is not None and self.token.role == TEAM else None

    @property
    def is_admin(self) -> bool:
        """The admin reads everything and manages agents, tokens and rates."""
        return self.agent is None and self.token is None


def bind_tags(agent: Agent, sent: Mapping[str, str]) -> dict[str, str]:
    """The receipt's tags: what the agent sent plus its bound tags; contradictions are 403."""
    bound = agent.bound()
    clashes = [FieldProblem(f"tags.{k}", f"agent {agent.id} is bound to {k}={v!r}")
               for k, v in bound.items() if k in sent and sent[k] != v]
    if clashes:
        raise Forbidden("tags contradict the agent's bound team or tags", clashes)
    return {**sent, **bound}
