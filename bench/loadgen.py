"""A small HTTP/1.1 load generator for the receipt service (bench/issue.py and the load tests).

Why not httpx: on a 2-core machine the client shares the CPU with the server, and a full HTTP
client costs more per request than the server's own parsing. This one writes pre-built request
bytes on keep-alive connections and reads only the status line, headers and body length, so
nearly all the CPU goes to the server being measured.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    """What one run measured."""

    sent: int = 0
    ok: int = 0
    receipts: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0

    def percentile(self, p: float) -> float:
        """Latency percentile in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def request_bytes(host: str, port: int, path: str, token: str, body: bytes) -> bytes:
    """A complete keep-alive POST request."""
    return (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value.strip())
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, bytes(body)
            body += chunk[:-2]
    return status, await reader.readexactly(length)


async def _connection(host: str, port: int, next_request: Callable[[], tuple[bytes, int] | None],
                      result: Result, keep_bodies: bool, rate_gate: _Gate | None,
                      delay: float) -> None:
    await asyncio.sleep(delay)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            if rate_gate is not None:
                await rate_gate.wait()
            item = next_request()
            if item is None:
                return
            data, count = item
            started = time.perf_counter()
            result.sent += 1
            try:
                writer.write(data)
                status, body = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status in (200, 201):
                result.ok += 1
                result.receipts += count
                if keep_bodies:
                    result.bodies.append(body)
    finally:
        writer.close()


class _Gate:
    """Open-loop pacing: releases requests at a fixed rate (for latency at a given load)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next = time.perf_counter()

    async def wait(self) -> None:
        now = time.perf_counter()
        self.next = max(self.next + self.interval, now - 0.05)
        delay = self.next - now
        if delay > 0:
            await asyncio.sleep(delay)


RAMP_SECONDS = 0.02
"""Connections open evenly over this time (counted in the measurement), as independent clients
do, not all in the same instant: with ``--workers N`` uvicorn's workers share one listening
socket, and the first to wake accepts every connection already queued. Measured: 4 batch
connections opened at once all landed on one of 2 workers, run after run, so "2 workers"
measured one; opened 5 ms apart they spread over both."""


async def run(host: str, port: int, requests: list[tuple[bytes, int]], connections: int,
              rate: float | None = None, keep_bodies: bool = False,
              duration: float | None = None, ramp: float = RAMP_SECONDS) -> Result:
    """Send ``requests`` (bytes, receipts in it) over ``connections`` keep-alive connections
    opened over the first ``ramp`` seconds."""
    result = Result()
    queue = iter(requests)
    deadline = time.perf_counter() + duration if duration else None

    def next_request() -> tuple[bytes, int] | None:
        if deadline is not None and time.perf_counter() > deadline:
            return None
        return next(queue, None)

    gate = _Gate(rate) if rate else None
    started = time.perf_counter()
    await asyncio.gather(*(_connection(host, port, next_request, result, keep_bodies, gate,
                                       ramp * i / connections)
                           for i in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


def call_body(i: int, tag: str = "bench", **overrides: object) -> dict[str, object]:
    """A realistic call body (varied usage, required tags present)."""
    body: dict[str, object] = {
        "request_id": f"{tag}-{i}", "provider": "openai",
        "model": ("gpt-4o", "gpt-4o-mini", "gpt-4.1")[i % 3],
        "usage": {"input_tokens": 1200 + i % 977, "output_tokens": 150 + i % 313,
                  "cache_read_tokens": (i % 5) * 100},
        "tags": {"project": "bench", "environment": "prod"}, "runtime_ms": 800 + i % 400,
    }
    body.update(overrides)
    return body


def single_requests(host: str, port: int, token: str, n: int, tag: str) -> list[tuple[bytes, int]]:
    """``n`` single-call requests."""
    return [(request_bytes(host, port, "/v1/receipts", token,
                           json.dumps(call_body(i, tag)).encode()), 1) for i in range(n)]


def batch_requests(host: str, port: int, token: str, n: int, size: int, tag: str,
                   ) -> list[tuple[bytes, int]]:
    """``n`` batch requests of ``size`` calls."""
    out = []
    for b in range(n):
        calls = [call_body(b * size + i, tag) for i in range(size)]
        out.append((request_bytes(host, port, "/v1/receipts/batch", token,
                                  json.dumps({"calls": calls}).encode()), size))
    return out


def wait_for_port(host: str, port: int, timeout: float = 60.0) -> None:
    """Block until something accepts connections on ``host:port``."""
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port}") from None
            time.sleep(0.05)
