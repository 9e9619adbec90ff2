"""The dashboard's one table: signed-in browser sessions.

A session row holds the SHA-256 of a random session id (the cookie), never the id itself, and
the hash of the token that signed in, so every page re-authenticates that token: revoking it
ends its sessions at the next click. ``csrf`` is the per-session token every form posts back.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class DashboardSessionRow(SQLModel, table=True):
    """One browser session of an admin, finance or team token."""

    __tablename__ = "receipts_dashboard_session"
    id_hash: bytes = Field(primary_key=True, sa_type=sa.LargeBinary)
    token_hash: bytes = Field(sa_type=sa.LargeBinary)
    csrf: str = Field(max_length=64)
    created_at: int = Field(sa_type=sa.BigInteger)
    expires_at: int = Field(sa_type=sa.BigInteger)
