"""Request and response models of the policy routes (``/v1/policy``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from receipts.api.schemas import _Strict


class PolicyIn(_Strict):
    """A new policy version: its rules (as a TOML file's ``[[rule]]`` tables, in JSON)."""

    rules: list[dict[str, Any]] = Field(max_length=200, description=(
        "Each rule: name, kind (require_tags | deny_models | max_cost), message, mode "
        "(deny | flag, default deny), when (tag = value or [values]), and its kind's fields: "
        "tags; models (names or shell patterns) and providers; max_cost (decimal string, "
        "reporting currency). A bad rule is a 422 naming rules.N.field."))


class PolicyOut(BaseModel):
    """A stored policy version (version 0 and no rules: no policy was ever set)."""

    version: int
    sha256: str | None
    format: Literal["toml", "yaml", "json"] | None
    created_at: str | None
    rules: list[dict[str, Any]]
    source: str | None


class PolicyVersionOut(BaseModel):
    """One version as listed."""

    version: int
    sha256: str
    format: Literal["toml", "yaml", "json"]
    created_at: str
    rules: int


class PolicyVersions(BaseModel):
    """Every version, oldest first."""

    versions: list[PolicyVersionOut]


class PolicyFlagOut(BaseModel):
    """A flag rule a receipt broke."""

    receipt_id: str
    rule: str
    policy_version: int
    field: str
    message: str
    detail: str
    team: str | None
    agent: str
    created_at: str


class PolicyFlags(BaseModel):
    """Flags, newest first."""

    flags: list[PolicyFlagOut]
