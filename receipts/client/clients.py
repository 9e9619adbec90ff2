"""``ReceiptsClient`` and ``AsyncReceiptsClient``: one receipt per call, never lost, never twice.

``record`` sends the call with a request id chosen once; a timeout, a refused connection or a
"not now" answer (429, 5xx) is retried with the same id, which the service answers with the
original receipt if it had already stored it: a retry is never a second charge. When every try
fails the body goes to the spool (:mod:`receipts.client.spool`) and ``record`` returns
``Recorded(spooled=True)`` instead of failing the agent. While calls wait in the spool, new calls
queue behind them, so the ledger receives calls in the order they were made. The spool is
flushed at the next ``record``, by :meth:`flush`, at interpreter exit and by
``receipt spool flush``.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import time
import weakref
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from receipts.client.context import merged_tags
from receipts.client.spool import Spool, Spooled
from receipts.client.wire import (
    Decision,
    Recorded,
    authorize_body,
    call_body,
    pinned_key,
    read_decision,
    read_receipt,
    refusal,
    refuses_the_call,
    should_retry,
)
from receipts.errors import ServiceUnreachable
from verifier.keys import PublicKey

DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=2.0)
_log = logging.getLogger("receipts.client")


class _Base:
    def __init__(self, base_url: str | None, agent_key: str | None, *,
                 spool: Spool | Path | str | None,
                 public_key: PublicKey | bytes | Path | str | None,
                 keep_cose: bool, retries: int, backoff: float) -> None:
        self.base_url = (base_url or os.environ.get("RECEIPTS_URL", "http://127.0.0.1:8000"))
        key = agent_key or os.environ.get("RECEIPTS_AGENT_KEY")
        if not key:
            raise ValueError("an agent key is needed (agent_key= or $RECEIPTS_AGENT_KEY)")
        self.headers = {"Authorization": f"Bearer {key}"}
        self.spool = spool if isinstance(spool, Spool) or spool is None else Spool(spool)
        self.key = pinned_key(public_key)
        self.keep_cose = keep_cose
        self.retries = retries
        self.backoff = backoff

    def _body(self, provider: str, model: str, usage: dict[str, Any] | list[Any],
              usage_format: str | None, tags: dict[str, str] | None, request_id: str | None,
              extra: dict[str, Any]) -> dict[str, Any]:
        return call_body(provider=provider, model=model, usage=usage, usage_format=usage_format,
                         tags=merged_tags(tags), request_id=request_id, extra=extra)

    def _authorize_body(self, provider: str, model: str, tags: dict[str, str] | None,
                        max_input_tokens: int | None, max_output_tokens: int | None,
                        estimated_cost: Decimal | str | None, request_id: str | None,
                        ) -> dict[str, Any]:
        return authorize_body(provider=provider, model=model, tags=merged_tags(tags),
                              max_input_tokens=max_input_tokens,
                              max_output_tokens=max_output_tokens,
                              estimated_cost=estimated_cost, request_id=request_id)


class ReceiptsClient(_Base):
    """The blocking client (``httpx.Client``)."""

    def __init__(self, base_url: str | None = None, agent_key: str | None = None, *,
                 spool: Spool | Path | str | None = None,
                 public_key: PublicKey | bytes | Path | str | None = None,
                 keep_cose: bool = True, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
                 retries: int = 3, backoff: float = 0.05,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(base_url, agent_key, spool=spool, public_key=public_key,
                         keep_cose=keep_cose, retries=retries, backoff=backoff)
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)
        if self.spool is not None:
            atexit.register(_flush_at_exit, weakref.ref(self))

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """POST with retries; the final answer, or ServiceUnreachable."""
        problem = "no answer"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.http.post(path, json=body, headers=self.headers)
            except httpx.TransportError as e:
                problem = f"{type(e).__name__}: {e}"
                continue
            if not should_retry(response):
                return response
            problem = f"HTTP {response.status_code}"
        raise ServiceUnreachable(f"{self.base_url}{path}: {problem}")

    def _deliver(self, body: dict[str, Any], keep: bool = False) -> Recorded:
        """Send one call; ``keep``: a refusal not about the call (a suspended or revoked key)
        puts it in the spool before it is raised, to be delivered once the key writes again."""
        response = self._post("/v1/receipts", body)
        if response.status_code >= 400:
            if keep and self.spool is not None and not refuses_the_call(response):
                self.spool.add(body)
            raise refusal(response)
        return read_receipt(body["request_id"], response, self.key, self.keep_cose)

    def record(self, *, provider: str, model: str, usage: dict[str, Any] | list[Any],
               usage_format: str | None = None, tags: dict[str, str] | None = None,
               request_id: str | None = None, **extra: Any) -> Recorded:
        """Receipt one call (``extra``: ``status``, ``runtime_ms``, ``service_tier``,
        ``retry_of``, ``started_at``, ``provider_response_id``). Without a spool an outage
        raises ServiceUnreachable; with one, the call is kept and ``spooled`` is True. A refusal
        not about the call (a suspended key, a revoked one) is raised, the call kept in the
        spool."""
        body = self._body(provider, model, usage, usage_format, tags, request_id, extra)
        if self.spool is None:
            return self._deliver(body)
        if self.spool.count():  # keep the order: behind the calls already waiting
            self.spool.add(body)
            delivered = self.flush()
            return delivered.get(body["request_id"]) or Recorded(body["request_id"],
                                                                   spooled=True)
        try:
            return self._deliver(body, keep=True)
        except ServiceUnreachable:
            self.spool.add(body)
            return Recorded(body["request_id"], spooled=True)

    def flush(self, *, wait: bool = False) -> dict[str, Recorded]:
        """Deliver the spool, oldest first, until it is empty or the service stops answering;
        the receipts delivered, by request id. While another client delivers the same spool
        this returns at once (or, with ``wait``, waits for it). A refusal that is not about the
        call (401: a wrong or revoked key) stops the delivery and is raised."""
        done: dict[str, Recorded] = {}
        if self.spool is None:
            return done
        with self.spool.flushing(wait=wait) as mine:
            while mine and (items := self.spool.pending()):
                for item in items:
                    try:
                        response = self._post("/v1/receipts", item.body)
                    except ServiceUnreachable:
                        return done
                    if not _settle(self.spool, item, response):
                        continue
                    done[item.request_id] = read_receipt(item.request_id, response, self.key,
                                                         self.keep_cose)
        return done

    def authorize(self, *, provider: str, model: str, tags: dict[str, str] | None = None,
                  max_input_tokens: int | None = None, max_output_tokens: int | None = None,
                  estimated_cost: Decimal | str | None = None,
                  request_id: str | None = None) -> Decision:
        """Ask ``POST /v1/authorize`` before a call: allow, deny or approval_required (and a
        reservation id to pass with the receipt). An outage raises ServiceUnreachable: the
        caller decides whether to fail open."""
        body = self._authorize_body(provider, model, tags, max_input_tokens,
                                    max_output_tokens, estimated_cost, request_id)
        response = self._post("/v1/authorize", body)
        if response.status_code >= 400:
            raise refusal(response)
        return read_decision(response)

    def close(self) -> None:
        """Deliver what can be, then close the connection."""
        self.flush()
        self.http.close()

    def __enter__(self) -> ReceiptsClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _settle(spool: Spool, item: Spooled, response: httpx.Response) -> bool:
    """Remove a spooled call the service answered; True if it answered with a receipt, False
    if it refused the call (set aside); a refusal not about the call is raised, the call kept."""
    if response.status_code >= 400:
        if not refuses_the_call(response):
            raise refusal(response)
        spool.refused(item, response.status_code, response.text[:2000])
        return False
    spool.delivered(item.seq)
    return True


def _flush_at_exit(ref: weakref.ref[ReceiptsClient]) -> None:
    """One try per waiting call: what is still undelivered stays in the spool, for the next
    run or ``receipt spool flush``; exit is never held up by retries nor ended by a raise."""
    client = ref()
    if client is None or client.http.is_closed or client.spool is None:
        return
    client.retries = 0
    try:
        if client.spool.count():
            client.flush()
    except Exception as e:  # (a spool file removed meanwhile, a refusal): never end in a raise
        _log.warning("receipts spool not delivered at exit: %s", e)


class AsyncReceiptsClient(_Base):
    """The asyncio client (``httpx.AsyncClient``); spool file work runs in a thread, so the
    event loop never waits on the disk."""

    def __init__(self, base_url: str | None = None, agent_key: str | None = None, *,
                 spool: Spool | Path | str | None = None,
                 public_key: PublicKey | bytes | Path | str | None = None,
                 keep_cose: bool = True, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
                 retries: int = 3, backoff: float = 0.05,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base_url, agent_key, spool=spool, public_key=public_key,
                         keep_cose=keep_cose, retries=retries, backoff=backoff)
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout,
                                      transport=transport)
        if self.spool is not None:
            # at exit no event loop runs: a blocking client delivers what is left
            self._exit_client = ReceiptsClient(self.base_url, self.headers["Authorization"][7:],
                                               spool=self.spool, public_key=self.key,
                                               keep_cose=False, retries=1)

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        problem = "no answer"
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = await self.http.post(path, json=body, headers=self.headers)
            except httpx.TransportError as e:
                problem = f"{type(e).__name__}: {e}"
                continue
            if not should_retry(response):
                return response
            problem = f"HTTP {response.status_code}"
        raise ServiceUnreachable(f"{self.base_url}{path}: {problem}")

    async def _deliver(self, body: dict[str, Any], keep: bool = False) -> Recorded:
        """As :meth:`ReceiptsClient._deliver`."""
        response = await self._post("/v1/receipts", body)
        if response.status_code >= 400:
            if keep and self.spool is not None and not refuses_the_call(response):
                await asyncio.to_thread(self.spool.add, body)
            raise refusal(response)
        return read_receipt(body["request_id"], response, self.key, self.keep_cose)

    async def record(self, *, provider: str, model: str, usage: dict[str, Any] | list[Any],
                     usage_format: str | None = None, tags: dict[str, str] | None = None,
                     request_id: str | None = None, **extra: Any) -> Recorded:
        """As :meth:`ReceiptsClient.record`."""
        body = self._body(provider, model, usage, usage_format, tags, request_id, extra)
        spool = self.spool
        if spool is None:
            return await self._deliver(body)
        if await asyncio.to_thread(spool.count):
            await asyncio.to_thread(spool.add, body)
            delivered = await self.flush()
            return delivered.get(body["request_id"]) or Recorded(body["request_id"],
                                                                   spooled=True)
        try:
            return await self._deliver(body, keep=True)
        except ServiceUnreachable:
            await asyncio.to_thread(spool.add, body)
            return Recorded(body["request_id"], spooled=True)

    async def flush(self) -> dict[str, Recorded]:
        """As :meth:`ReceiptsClient.flush` (never waits for another flusher)."""
        done: dict[str, Recorded] = {}
        spool = self.spool
        if spool is None:
            return done
        with spool.flushing() as mine:
            while mine and (items := await asyncio.to_thread(spool.pending)):
                for item in items:
                    try:
                        response = await self._post("/v1/receipts", item.body)
                    except ServiceUnreachable:
                        return done
                    if not await asyncio.to_thread(_settle, spool, item, response):
                        continue
                    done[item.request_id] = read_receipt(item.request_id, response, self.key,
                                                         self.keep_cose)
        return done

    async def authorize(self, *, provider: str, model: str, tags: dict[str, str] | None = None,
                        max_input_tokens: int | None = None,
                        max_output_tokens: int | None = None,
                        estimated_cost: Decimal | str | None = None,
                        request_id: str | None = None) -> Decision:
        """As :meth:`ReceiptsClient.authorize`."""
        body = self._authorize_body(provider, model, tags, max_input_tokens,
                                    max_output_tokens, estimated_cost, request_id)
        response = await self._post("/v1/authorize", body)
        if response.status_code >= 400:
            raise refusal(response)
        return read_decision(response)

    async def aclose(self) -> None:
        """Deliver what can be, then close the connection."""
        await self.flush()
        await self.http.aclose()
        if self.spool is not None:
            self._exit_client.http.close()

    async def __aenter__(self) -> AsyncReceiptsClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()
