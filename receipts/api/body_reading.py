"""Reading a JSON request body: only once the caller is authenticated, and by one rule.

Order. FastAPI reads and parses a route's body before it runs the route's dependencies, so a
request without a key and with a malformed body was told about its body (422), not about its key
(401): the service answered questions about input from anyone. A route class made by
:func:`authenticated_first` runs the route's authentication first, then reads the body.

One rule. Whatever is wrong with the bytes of a body, the answer is a 422 ``invalid_request``
naming ``body``: not UTF-8 (the JSON of RFC 8259 is UTF-8; this was a 400 ``http_error``),
not JSON, or nested more than :data:`MAX_JSON_DEPTH` arrays and objects deep. A real call's body
nests 6 deep at most (a batch item's Gemini modality counts or OTLP attributes); a deeper one
only spends the service's stack: bodies nested 300 to 900 deep reached the idempotency hash and
failed there, a 500.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute, APIRouter
from starlette.requests import Request
from starlette.responses import Response

from receipts.errors import FieldProblem, Invalid

MAX_JSON_DEPTH = 32
"""How many arrays and objects a request body may nest, the body itself counting as one."""

Authenticate = Callable[[Request], Awaitable[None]]
"""Checks a request's credentials (raising 401 or 403), keeping what it found in the scope."""


def _refused(reason: str) -> Invalid:
    return Invalid(f"the body is not valid JSON: {reason}", [FieldProblem("body", reason)])


def parse_json_body(body: bytes) -> Any:
    """``body`` as JSON, or a 422 naming ``body`` (:data:`MAX_JSON_DEPTH` bounds its nesting)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _refused(f"not UTF-8 (byte {e.start})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise _refused(f"{e.msg} (line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise _refused(f"nested more than {MAX_JSON_DEPTH} arrays or objects deep") from None
    # fewer brackets than the limit cannot nest past it: a single call stops here
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and _too_deep(value):
        raise _refused(f"nested more than {MAX_JSON_DEPTH} arrays or objects deep")
    return value


def _too_deep(value: Any) -> bool:
    """Whether ``value`` (decoded JSON) nests more than :data:`MAX_JSON_DEPTH` containers."""
    stack = [(value, 1)] if type(value) in (dict, list) else []
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        for child in node.values() if type(node) is dict else node:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return False


class _ReadRequest(Request):
    """The request as a route's handler sees it: its body already read and parsed."""

    parsed: Any = None

    async def json(self) -> Any:
        return self.parsed


def authenticated_first(authenticate: Authenticate) -> type[APIRoute]:
    """A route class whose routes with a body authenticate before reading it.

    ``authenticate`` runs first (its 401 or 403 is the answer, whatever the body); then the
    body is read and parsed by :func:`parse_json_body`; then the route runs as FastAPI would,
    its dependencies reusing what ``authenticate`` kept. Routes without a body are unchanged.
    """

    class AuthenticatedFirst(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()
            if self.body_field is None:
                return handler

            async def authenticated_then_read(request: Request) -> Response:
                await authenticate(request)
                read = _ReadRequest(request.scope, request.receive)
                body = await read.body()
                if body:
                    read.parsed = parse_json_body(body)
                return await handler(read)

            return authenticated_then_read

    return AuthenticatedFirst


def authenticating_router(tag: str, authenticate: Authenticate, prefix: str = "/v1",
                          ) -> APIRouter:
    """A router of the API (``tag`` in the OpenAPI document) whose routes with a body run
    ``authenticate`` before the body is read (:func:`authenticated_first`)."""
    return APIRouter(prefix=prefix, tags=[tag], route_class=authenticated_first(authenticate))
