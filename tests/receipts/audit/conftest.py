"""A fixed price book and a log line maker for the audit tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from receipts.pricing.book_files import write_book
from receipts.pricing.books import SHIPPED_EFFECTIVE_FROM, SHIPPED_ENTRIES, build_price_book
from receipts.pricing.books import _entry as entry

TAGS = {"team": "search", "project": "ranker"}


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    entries = [*SHIPPED_ENTRIES, entry("azure", "gpt-4o", input="2.50", cache_read="1.25",
                                       output="10.00")]
    payload, _ = build_price_book(entries, currency="USD", effective_from=SHIPPED_EFFECTIVE_FROM,
                                  created_at=SHIPPED_EFFECTIVE_FROM, source="test prices")
    return write_book(tmp_path_factory.mktemp("book"), payload)


def line(request_id: str, *, model: str = "gpt-4o", provider: str = "openai",
         tags: dict[str, str] | None = None, cost: str | None = None, prompt: int = 1000,
         completion: int = 100, cached: int = 0) -> str:
    """A gateway log line around an OpenAI chat completion (1000 in, 100 out: $0.0035)."""
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion}
    if cached:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    wrapped: dict[str, Any] = {
        "timestamp": "2026-08-14T10:21:03Z", "request_id": request_id, "provider": provider,
        "tags": TAGS if tags is None else tags,
        "response": {"id": f"chatcmpl-{request_id}", "object": "chat.completion",
                     "model": model, "usage": usage}}
    if cost is not None:
        wrapped["cost"] = cost
    return json.dumps(wrapped)
