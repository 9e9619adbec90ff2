"""Refuse NUL (U+0000) in a request's path and query parameters, as pure ASGI middleware.

PostgreSQL text cannot hold NUL, so a NUL in a filter or an id would reach the database as an
error (a 500) where SQLite would quietly match nothing: the same request must get the same
answer on both. No stored text holds NUL (the request models refuse it in bodies, see
:data:`receipts.api.schemas.NO_NUL`), so such a request is a 422 naming the parameter.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from receipts.api.errors import error_dict, json_bytes
from receipts.errors import FieldProblem

REASON = "must not contain NUL (U+0000)"


def nul_field(scope: Scope) -> str | None:
    """The parameter holding a NUL: a query parameter's name, or ``path``; None if none."""
    if "\x00" in scope["path"]:
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:  # (the cheap test first: this runs per request)
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name + value:
                return name if "\x00" not in name else "query"
    return None


class RefuseNul:
    """Answer 422 before routing when the path or a query parameter holds NUL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        field = nul_field(scope) if scope["type"] == "http" else None
        if field is None:
            await self.app(scope, receive, send)
            return
        body = json_bytes({"error": error_dict("invalid_request", f"{field}: {REASON}",
                                               [FieldProblem(field, REASON)])})
        headers: list[Any] = [(b"content-type", b"application/json"),
                              (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 422, "headers": headers})
        await send({"type": "http.response.body", "body": body})
