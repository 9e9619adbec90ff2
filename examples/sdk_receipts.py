"""A receipt for every OpenAI and Anthropic call, from one line of set-up per client.

    pip install '.[openai,anthropic]'
    export RECEIPTS_URL=http://127.0.0.1:8000 RECEIPTS_AGENT_KEY=...   # receipt agent create
    export OPENAI_API_KEY=... ANTHROPIC_API_KEY=...
    python examples/sdk_receipts.py

Each call below (a chat completion, a streamed one, a Responses call, an embedding, a message
and a streamed message) gets a signed receipt, checked against the service's public key when
``RECEIPTS_PUBLIC_KEY`` names its PEM file. While the receipts service is down the calls still
run: their receipts wait in the spool file and are delivered when it is back (or by
``receipt spool flush``). Tags come from ``tags(...)`` blocks; a nested block (a sub-agent)
inherits its parent's tags and trace id.
"""

from __future__ import annotations

import os
from typing import Any

import anthropic
import openai

from receipts.client import ReceiptsClient, Recorded, tags
from receipts.client.anthropic import wrap as wrap_anthropic
from receipts.client.openai import wrap as wrap_openai


def run(openai_client: openai.OpenAI, anthropic_client: anthropic.Anthropic,
        receipts: ReceiptsClient) -> list[Recorded]:
    """Make the calls; the receipts they got, in order."""
    got: list[Recorded] = []
    gpt = wrap_openai(openai_client, receipts, on_receipt=got.append)
    claude = wrap_anthropic(anthropic_client, receipts, on_receipt=got.append)
    ask: Any = [{"role": "user", "content": "One word: the capital of France?"}]
    with tags(project="ranker", environment="dev", feature="geography"):
        gpt.chat.completions.create(model="gpt-4o-mini", messages=ask)
        for chunk in gpt.chat.completions.create(model="gpt-4o-mini", messages=ask,
                                                 stream=True):
            print(chunk.choices[0].delta.content or "", end="")
        print()
        gpt.responses.create(model="gpt-4o-mini", input="One word: the capital of Italy?")
        gpt.embeddings.create(model="text-embedding-3-small", input="Paris")
        with tags(feature="sub-agent"):  # inherits project, environment and the trace id
            claude.messages.create(model="claude-sonnet-4-5", max_tokens=20, messages=ask)
            with claude.messages.stream(model="claude-sonnet-4-5", max_tokens=20,
                                        messages=ask) as stream:
                print("".join(stream.text_stream))
    return got


def main() -> None:
    receipts = ReceiptsClient(spool=os.environ.get("RECEIPTS_SPOOL", "receipts-spool.sqlite"),
                              public_key=os.environ.get("RECEIPTS_PUBLIC_KEY"))
    with receipts:
        for got in run(openai.OpenAI(), anthropic.Anthropic(), receipts):
            if got.receipt is None:
                print(f"{got.request_id}: spooled, delivered when the service is back")
                continue
            r = got.receipt
            print(f"{r['provider']}/{r['model']} {r['status']}: {r['cost']} {r['currency']} "
                  f"(receipt {r['id']}, {r.get('provider_response_id', '-')})")


if __name__ == "__main__":
    main()
