"""Request and response models of the role-token routes (``/v1/tokens``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from receipts.api.schemas import NO_NUL, TagValue, _Strict

Name = Annotated[str, StringConstraints(max_length=256), NO_NUL]


class RoleTokenIn(_Strict):
    """A new read-only role token: ``finance`` (every team) or ``team`` (one team)."""

    role: Literal["finance", "team"]
    team: TagValue | None = Field(None, description=(
        "Required for role team (the one team it reads); refused for finance (422)."))
    name: Name = Field("", description="Who or what holds it (shown in the listing).")


class RoleTokenOut(BaseModel):
    """A role token as listed: never the token or its hash."""

    id: str
    role: Literal["finance", "team"]
    team: str | None
    name: str
    created_at: str
    revoked_at: str | None


class RoleTokenList(BaseModel):
    """Every role token, revoked ones included."""

    tokens: list[RoleTokenOut]


class RoleTokenCreated(BaseModel):
    """A new role token and its secret (in this response only; stored as a hash)."""

    id: str
    role: Literal["finance", "team"]
    team: str | None
    name: str
    token: str


class RoleTokenRevoked(BaseModel):
    """The role token revoked."""

    id: str
    revoked: bool
