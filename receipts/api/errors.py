"""One place that turns every error into the API's JSON error body.

``{"error": {"code": "...", "message": "...", "fields": [{"field": "usage.input_tokens",
"reason": "..."}]}}``: the same shape for 401, 403, 404, 409, 413, 422, 503 and 500, so clients
need one parser. Internal errors say nothing about internals (the log has the details).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from receipts.errors import FieldProblem, ReceiptsError

log = logging.getLogger("receipts.api")


def error_dict(code: str, message: str, fields: Sequence[FieldProblem] = ()) -> dict[str, Any]:
    """The ``error`` object of a response body."""
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = [{"field": f.field, "reason": f.reason} for f in fields]
    return body


def error_of(e: ReceiptsError) -> dict[str, Any]:
    """The ``error`` object for one of our errors."""
    return error_dict(e.code, str(e), e.fields)


def json_bytes(body: Any) -> bytes:
    """Compact JSON (UTF-8) of ``body``, which holds only JSON types (money is already text).

    orjson, because encoding the answer was the largest single cost of a batch request after
    signing (~12% of a worker's time with the standard library, measured by bench/issue.py).
    What it refuses (a lone surrogate echoed from a request, an integer past 64 bits) goes to
    the standard library, which always answered those, so no body that was answered before
    becomes a 500 now.
    """
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, separators=(",", ":")).encode()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None,
                  ) -> Response:
    """A JSON response without FastAPI's generic encoder (the hot path pays for it)."""
    return Response(json_bytes(body), status_code=status, media_type="application/json",
                    headers=headers)


def _path(loc: Sequence[Any]) -> str:
    """``("body", "usage", "input_tokens")`` -> ``usage.input_tokens`` (where it came from is
    implied by the field; a whole-body problem stays ``body``)."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _flat_routes(routes: Iterable[Any]) -> list[Any]:
    """The app's routes with included routers opened (FastAPI keeps them nested)."""
    flat: list[Any] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        flat.extend(_flat_routes(inner.routes) if inner is not None else [route])
    return flat


def allowed_methods(request: Request) -> list[str]:
    """The methods some route serves at the request's path: a 405's ``Allow`` header (RFC 9110
    §15.5.6). Every route is asked, since one path is often several routes (``GET`` and
    ``POST /v1/agents``); the router's own 405 names only the first of them."""
    serving = [route for route in _flat_routes(request.app.router.routes)
               if any(route.matches({**request.scope, "method": method})[0] == Match.FULL
                      for method in _METHODS)]
    literal = {route.path for route in serving if "{" not in getattr(route, "path", "{")}
    if literal:  # /v1/receipts/batch is that path, not /v1/receipts/{receipt_id}
        serving = [route for route in serving if getattr(route, "path", None) in literal]
    return [method for method in _METHODS
            if any(route.matches({**request.scope, "method": method})[0] == Match.FULL
                   for route in serving)]


PageRenderer = Callable[[Request, ReceiptsError], Response]
"""How a prefix of HTML pages (the dashboard) shows one of our errors instead of JSON."""


def install(app: FastAPI, pages: Mapping[str, PageRenderer] | None = None) -> None:
    """Register the handlers; errors under a prefix of ``pages`` are rendered by its page
    renderer (a person reads those), every other one is the JSON error body."""
    html = dict(pages or {})

    async def ours(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ReceiptsError)
        for prefix, render in html.items():
            if request.url.path == prefix or request.url.path.startswith(prefix + "/"):
                return render(request, exc)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return json_response({"error": error_of(exc)}, exc.status, headers)

    async def validation(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        fields = [FieldProblem(_path(e["loc"]), e["msg"]) for e in exc.errors()]
        return json_response({"error": error_dict("invalid_request", "invalid request",
                                                  fields)}, 422)

    async def http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
        return json_response({"error": error_dict(code, str(exc.detail))}, exc.status_code,
                             headers)

    async def internal(_request: Request, exc: Exception) -> Response:
        log.exception("internal error", exc_info=exc)
        return json_response({"error": error_dict("internal_error", "internal error")}, 500)

    app.add_exception_handler(ReceiptsError, ours)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(Exception, internal)
