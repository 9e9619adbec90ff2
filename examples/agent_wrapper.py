"""An agent-side wrapper: call an LLM, then ask the receipts service for a signed receipt.

    RECEIPTS_URL=http://127.0.0.1:8000 RECEIPTS_AGENT_KEY=... python examples/agent_wrapper.py

``ReceiptsClient.record`` sends the provider's usage object unchanged (``usage_format``), so the
service does the normalization; the request id makes retries safe (the same call sent twice is
one charge). The demo at the bottom posts a call shaped like an OpenAI chat completion's usage.
"""

from __future__ import annotations

import base64
import os
import uuid
from typing import Any

import httpx


class ReceiptsClient:
    """A small client for ``POST /v1/receipts``."""

    def __init__(self, base_url: str, agent_key: str,
                 client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(base_url=base_url, timeout=10.0)
        self._headers = {"Authorization": f"Bearer {agent_key}"}

    def record(self, *, provider: str, model: str, usage: dict[str, Any], usage_format: str,
               tags: dict[str, str], request_id: str | None = None,
               runtime_ms: int | None = None) -> tuple[dict[str, Any], bytes]:
        """Receipt one call; returns the receipt's JSON view and its COSE_Sign1 bytes."""
        body: dict[str, Any] = {
            "request_id": request_id or str(uuid.uuid4()), "provider": provider,
            "model": model, "usage": usage, "usage_format": usage_format, "tags": tags,
        }
        if runtime_ms is not None:
            body["runtime_ms"] = runtime_ms
        response = self._client.post("/v1/receipts", json=body, headers=self._headers)
        if response.status_code >= 400:
            raise RuntimeError(f"receipt refused ({response.status_code}): {response.text}")
        data = response.json()
        return data["receipt"], base64.b64decode(data["cose"])


def main() -> None:
    client = ReceiptsClient(os.environ.get("RECEIPTS_URL", "http://127.0.0.1:8000"),
                            os.environ["RECEIPTS_AGENT_KEY"])
    openai_usage = {"prompt_tokens": 2000, "completion_tokens": 400,
                    "prompt_tokens_details": {"cached_tokens": 1500},
                    "completion_tokens_details": {"reasoning_tokens": 0}}
    receipt, cose = client.record(provider="openai", model="gpt-4o", usage=openai_usage,
                                  usage_format="openai",
                                  tags={"project": "ranker", "environment": "prod"})
    print(f"receipt {receipt['id']}: {receipt['currency']} {receipt['cost']} "
          f"(chain {receipt['chain']}, seq {receipt['seq']}, {len(cose)} signed bytes)")


if __name__ == "__main__":
    main()
