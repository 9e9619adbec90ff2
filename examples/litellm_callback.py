"""A receipt for every LiteLLM call: the SDK, its Router, and (with no code) the proxy.

    pip install '.[litellm]'
    export RECEIPTS_URL=http://127.0.0.1:8000 RECEIPTS_AGENT_KEY=...   # receipt agent create
    export OPENAI_API_KEY=...        # or --mock: LiteLLM's mock responses, no provider called
    python examples/litellm_callback.py [--mock]

One ``ReceiptsLogger`` in ``litellm.callbacks`` receipts a plain completion, a streamed one and
a Router call, each under the request id ``litellm:<litellm_call_id>``, with LiteLLM's usage
object, the ``tags(...)`` in force, the call's ``metadata`` and its ``key:value`` tags. The
proxy does the same from its ``config.yaml`` (``litellm_settings: callbacks:
receipts.client.litellm.handler``) and adds the virtual key's team, alias and user as tags.
LiteLLM runs the sync callbacks on its own threads: the calls return before their receipts.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # (else fetched at import)

import litellm
from litellm.router import Router

from receipts.client import ReceiptsClient, Recorded, tags
from receipts.client.litellm import ReceiptsLogger


def run(receipts: ReceiptsClient, mock: bool, timeout: float = 30) -> list[Recorded]:
    """Make the calls; the receipts they got (in the order LiteLLM delivered them)."""
    got: list[Recorded] = []
    logger = ReceiptsLogger(receipts, on_receipt=got.append)
    litellm.callbacks = [logger]
    fake: dict[str, Any] = {"mock_response": "Paris."} if mock else {}
    ask: Any = [{"role": "user", "content": "One word: the capital of France?"}]
    router = Router(model_list=[{"model_name": "fast",
                                 "litellm_params": {"model": "openai/gpt-4o-mini", **fake}}])
    try:
        with tags(project="ranker", environment="dev"):
            answer = litellm.completion(model="gpt-4o-mini", messages=ask, **fake,
                                        metadata={"feature": "geography",
                                                  "tags": ["step:answer"]})
            print(answer.choices[0].message.content)
            for chunk in litellm.completion(model="gpt-4o-mini", messages=ask, stream=True,
                                            stream_options={"include_usage": True}, **fake):
                print((chunk.choices[0].delta.content or "") if chunk.choices else "", end="")
            print()
            router.completion(model="fast", messages=ask,
                              metadata={"spend_logs_metadata": {"ticket": "T-1"}})
        deadline = time.monotonic() + timeout
        while len(got) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        litellm.logging_callback_manager.remove_callback_from_all_lists(logger)
    return got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mock", action="store_true", help="LiteLLM's mock responses")
    args = parser.parse_args()
    receipts = ReceiptsClient(spool=os.environ.get("RECEIPTS_SPOOL", "receipts-spool.sqlite"),
                              public_key=os.environ.get("RECEIPTS_PUBLIC_KEY") or None)
    with receipts:
        for got in run(receipts, args.mock):
            r = got.receipt
            print(f"{got.request_id}: " + (f"{r['model']} {r['cost']} {r['currency']} "
                                            f"{r['tags']}" if r else "spooled, delivered later"))


if __name__ == "__main__":
    main()
