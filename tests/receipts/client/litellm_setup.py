"""What the LiteLLM tests share: the call they make, a logger installed as LiteLLM's callback
(:class:`Setup`) and one that keeps the events it was given (:class:`Keeping`). The fixtures
that use them (``installed``, ``loopback_only``) are in this folder's conftest, which imports
this module (and so LiteLLM) only when a LiteLLM test asks for them."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from receipts.client import ReceiptsClient, Recorded
from receipts.client.litellm import ReceiptsLogger
from receipts.errors import ReceiptsError
from tests.receipts.client.conftest import Service

ASK = [{"role": "user", "content": "Capital of France?"}]
CHAT_USAGE = {"input": 86, "cache_read": 1920, "output": 300}
"""recorded.CHAT's usage as the service normalizes it (the OpenAI wrapper's test says so too)."""


class Setup:
    """A ``ReceiptsLogger`` installed as LiteLLM's callback, the receipts it got, and a tag
    that marks this test's receipts in the shared ledger (``default=False``: no default
    client, for a logger of ``keys=`` only)."""

    def __init__(self, service: Service, receipts: Any = None,
                 cls: type[ReceiptsLogger] = ReceiptsLogger, *, default: bool = True,
                 **options: Any) -> None:
        self.service = service
        self.got: list[Recorded] = []
        self.errors: list[ReceiptsError] = []
        self.receipts: Any = receipts or (ReceiptsClient(
            service.url, service.key, public_key=service.public_key) if default else None)
        self.run = uuid.uuid4().hex[:12]
        self.logger = cls(self.receipts, tags={"run": self.run}, on_receipt=self.got.append,
                          on_error=self.errors.append, **options)

    def wait(self, count: int, timeout: float = 20, signed: bool = True,
             ) -> list[dict[str, Any]]:
        """The receipts of ``count`` calls (sync callbacks end on LiteLLM's own threads), then
        a moment more to see that no other receipt comes."""
        deadline = time.monotonic() + timeout
        while len(self.got) + len(self.errors) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        assert not self.errors, self.errors
        assert len(self.got) == count
        found = [g.receipt for g in self.got if g.receipt is not None]
        assert not signed or all(g.signed_payload and g.receipt
                                 and g.signed_payload["id"] == g.receipt["id"] for g in self.got)
        return found

    async def await_receipts(self, count: int, timeout: float = 20) -> None:
        """Within the event loop: LiteLLM's async callbacks are tasks of it."""
        deadline = time.monotonic() + timeout
        while len(self.got) + len(self.errors) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    def ledger(self) -> list[dict[str, Any]]:
        """This test's receipts in the service's ledger."""
        found: list[dict[str, Any]] = self.service.receipts()
        return [r for r in found if r["tags"].get("run") == self.run]


class Keeping(ReceiptsLogger):
    """A logger that also keeps every success event it was given, to deliver it again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[Any, ...]] = []

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any,
                          end_time: Any) -> None:
        self.seen.append((kwargs, response_obj, start_time, end_time))
        super().log_success_event(kwargs, response_obj, start_time, end_time)


def kept(s: Setup) -> list[tuple[Any, ...]]:
    """The events a :class:`Keeping` logger was given."""
    assert isinstance(s.logger, Keeping)
    return s.logger.seen
