"""The OpenAPI document: who may call each operation, what each can answer, and what only the
deployment's settings know (which ledger routes are public, body limits, batch size, required
tags).

FastAPI builds the document from the route declarations; this module holds their vocabulary
(the two credentials, the error responses) and finishes the document for one deployment, so
that ``/openapi.json`` (and so ``/docs``) describes the API this process actually serves.
Tests read the document and fuzz the app against it (tests/receipts/api/test_openapi_*.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from receipts.api.body_limits import BATCH_PATHS
from receipts.api.schemas import NUL_FREE, ErrorBody
from receipts.deployment.settings import ENV_PUBLIC, ENV_REQUIRED_TAGS, Settings

AGENT_KEY = "AgentKey"
ADMIN_TOKEN = "AdminToken"  # noqa: S105 - the name of a security scheme, not a secret
FINANCE_TOKEN = "FinanceToken"  # noqa: S105 - the name of a security scheme, not a secret
TEAM_TOKEN = "TeamToken"  # noqa: S105 - the name of a security scheme, not a secret
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    AGENT_KEY: {"type": "http", "scheme": "bearer", "description": (
        "An agent key (rk_..., from receipt agent create or POST /v1/agents): writes "
        "receipts, reads its own receipts and the price books.")},
    ADMIN_TOKEN: {"type": "http", "scheme": "bearer", "description": (
        "The admin token (ra_..., printed once by receipt init): reads everything, manages "
        "agents, role tokens, FX rates and policies; writes no receipt.")},
    FINANCE_TOKEN: {"type": "http", "scheme": "bearer", "description": (
        "A finance role token (rt_..., from receipt token create --role finance or POST "
        "/v1/tokens): reads every team's spend and receipts, the ledger, agents and FX rates; "
        "changes nothing (403 on every write).")},
    TEAM_TOKEN: {"type": "http", "scheme": "bearer", "description": (
        "A team role token (rt_..., from receipt token create --role team --team T): reads "
        "only team T's spend, receipts, budgets and alerts (a filter on another team is a "
        "403, another team's receipt a 404); anything else is a 403.")},
}


def needs(*schemes: str) -> dict[str, Any]:
    """``openapi_extra`` of an operation that any one of ``schemes`` may call (OpenAPI's OR).

    Declared here rather than with FastAPI security dependencies: the routes authenticate
    with one dependency of their own (the write path is the hot path), so nothing else would
    tell the document which credential each operation takes.
    """
    return {"security": [{scheme: []} for scheme in schemes]}


AGENT_ONLY = needs(AGENT_KEY)
ADMIN_ONLY = needs(ADMIN_TOKEN)
ANY_TOKEN = needs(AGENT_KEY, ADMIN_TOKEN, FINANCE_TOKEN, TEAM_TOKEN)
READERS = needs(ADMIN_TOKEN, FINANCE_TOKEN, TEAM_TOKEN)
"""Spend, budgets and alerts (``require_reader``): a team token sees its team only."""
ALL_TEAMS = needs(ADMIN_TOKEN, FINANCE_TOKEN)
"""Reads not split by team (``require_all_teams``): the ledger, agents, FX rates."""
APPROVERS = needs(ADMIN_TOKEN, TEAM_TOKEN)
"""Deciding on a held call (``require_approver``)."""

WHY: dict[int, str] = {
    401: "no credential, or one that is malformed, unknown or revoked",
    403: "a valid credential that may not do this",
    404: "no such resource, or not one this credential may see",
    409: "contradicts what is stored",
    413: "request body over the size limit",
    422: "invalid input: error.fields names each refused field and why",
    503: "not done (database unavailable, no price book in force); safe to retry",
}


def errors(*codes: int, why: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """The error responses of an operation, each the one :class:`ErrorBody` (one ``$ref``)."""
    reasons = {**WHY, **(why or {})}
    return {code: {"model": ErrorBody, "description": reasons[code]} for code in codes}


def document(app: FastAPI, settings: Settings, gates: Mapping[str, str]) -> dict[str, Any]:
    """The OpenAPI document of ``app`` as deployed with ``settings`` (built once, then cached).

    ``gates`` maps a path to the ``RECEIPTS_PUBLIC`` name that makes it public.
    """
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    components = schema.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    _public_routes(schema["paths"], settings, gates)
    _body_limits(schema["paths"], settings)
    _no_nul_parameters(schema["paths"])
    _batch_and_tags(components["schemas"], settings)
    app.openapi_schema = schema
    return schema


def _public_routes(paths: dict[str, Any], settings: Settings, gates: Mapping[str, str]) -> None:
    """A route this deployment makes public takes no credential and so refuses none."""
    for path, name in gates.items():
        for operation in paths[path].values():
            if name in settings.public:
                operation.pop("security", None)
                for code in ("401", "403"):
                    operation["responses"].pop(code, None)
                note = f"Public on this deployment ({ENV_PUBLIC} includes {name})."
            else:
                note = (f"Admin or finance token only on this deployment (add {name} to "
                        f"{ENV_PUBLIC} to make it public).")
            operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()


def _body_limits(paths: dict[str, Any], settings: Settings) -> None:
    for path, operations in paths.items():
        limit = settings.max_batch_body_bytes if path in BATCH_PATHS else settings.max_body_bytes
        for operation in operations.values():
            too_large = operation["responses"].get("413")
            if too_large is not None:
                too_large["description"] = f"request body over {limit} bytes"


def _no_nul_parameters(paths: dict[str, Any]) -> None:
    """:mod:`receipts.api.no_nul` refuses NUL in every path and query parameter (422)."""
    for operations in paths.values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                for schema in _string_schemas(parameter["schema"]):
                    schema.setdefault("pattern", NUL_FREE)


def _string_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The free-text string schemas in ``schema`` (itself, or the branches of an anyOf)."""
    if schema.get("type") == "string" and "enum" not in schema:
        return [schema]
    return [s for branch in schema.get("anyOf", []) for s in _string_schemas(branch)]


def _batch_and_tags(schemas: dict[str, Any], settings: Settings) -> None:
    """The batch size and the required tags are settings: state this deployment's."""
    schemas["BatchIn"]["properties"]["calls"]["maxItems"] = settings.max_batch
    tags = schemas["CallIn"]["properties"]["tags"]
    required = list(settings.required_tags)
    tags["x-required-tags"] = required
    if required:
        tags["description"] = (
            f"Required on this deployment ({ENV_REQUIRED_TAGS}): {', '.join(required)}; each "
            "from the agent's bound tags or here, else a 422 naming tags.<name>. A tag the "
            "agent is bound to (team included) must not be given another value here (403).")
    else:
        tags["description"] = ("No tag is required on this deployment. A tag the agent is "
                               "bound to (team included) must not be given another value "
                               "here (403).")
