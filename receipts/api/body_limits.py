"""Request body limits as pure ASGI middleware (413 before the body is read into memory).

The declared ``Content-Length`` is checked first; a chunked body is counted as it streams: past
the limit the 413 is sent at once, the app sees the client as gone, and anything it still tries
to send is dropped. The batch endpoint has its own, larger limit.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BATCH_PATH = "/v1/receipts/batch"
BATCH_PATHS = frozenset({BATCH_PATH, "/v1/otlp/v1/traces", "/v1/import"})
"""Endpoints that take many calls in one body (a batch, an OTLP traces export, a log import)."""


def _body(limit: int) -> bytes:
    return json.dumps({"error": {"code": "payload_too_large",
                                 "message": f"request body over {limit} bytes"}}).encode()


class BodyLimit:
    """Refuse request bodies over ``single`` bytes (``batch`` for the batch endpoint)."""

    def __init__(self, app: ASGIApp, single: int, batch: int) -> None:
        self.app = app
        self.single = single
        self.batch = batch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.batch if scope["path"] in BATCH_PATHS else self.single
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    too_big = False
                if too_big:
                    await self._refuse(send, limit)
                    return
        seen = 0
        started = refused = False

        async def counted_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    if not started:  # answer now; whatever the app does next is dropped
                        await self._refuse(send, limit)
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception:
            if not refused:
                raise

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        body = _body(limit)
        headers: list[Any] = [(b"content-type", b"application/json"),
                              (b"content-length", str(len(body)).encode()),
                              (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
