"""A local HTTP receiver for alert deliveries: a tiny http.server on 127.0.0.1 in a thread.

It records every request (path, headers, raw body) before answering, and answers what the test's
``respond`` function returns (200 by default), so a test can fail the first attempts, hold a
request open while it kills the service, or check a signature over the exact bytes received.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request as the receiver got it (header names lowercased)."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records requests; ``respond(request) -> status`` decides each answer."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.respond: Callable[[Received], int] = lambda _r: 200
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                               self.rfile.read(length))
                with receiver._changed:
                    receiver.requests.append(got)
                    receiver._changed.notify_all()
                status = receiver.respond(got)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # (the sender was killed while we held the request)
                    pass

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """Until ``count`` requests have arrived (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.requests)} of {count} requests arrived")
                self._changed.wait(left)
            return list(self.requests)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A receiver serving in a thread until the block ends."""
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
