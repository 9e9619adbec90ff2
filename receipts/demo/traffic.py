"""Simulated agent traffic: realistic calls for the demo, the benchmarks and the tests.

Three teams with their projects and agents call three providers with usage shaped like real
traffic (cached prompts, long outputs, occasional cache writes, an unknown model now and then).
Deterministic for a given seed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from receipts.deployment.signing_key import Signer
from receipts.issuing.receipt_builder import Call, ChainHead, price_fields, sign_receipt
from receipts.pricing.books import shipped_price_book
from receipts.storage.ledger_file import fx_rate_item, key_item, price_book_item, write_ledger
from verifier.pricing import FxRate

TEAMS: dict[str, dict[str, Any]] = {
    "search": {"projects": ["ranker", "query-rewrite"], "cost_center": "cc-1001",
               "models": [("openai", "gpt-4o"), ("openai", "gpt-4o-mini")]},
    "support": {"projects": ["triage-bot", "reply-drafts"], "cost_center": "cc-2002",
                "models": [("anthropic", "claude-sonnet-4"), ("anthropic", "claude-3-5-haiku")]},
    "research": {"projects": ["doc-qa", "eval-harness"], "cost_center": "cc-3003",
                 "models": [("google", "gemini-2.5-pro"), ("google", "gemini-2.5-flash"),
                            ("openai", "o3")]},
}
START_MS = 1_764_547_200_000  # 2025-12-01T00:00:00Z


@dataclass(frozen=True)
class SimulatedCall:
    """A call as an agent would report it to the service (our usage convention)."""

    team: str
    project: str
    cost_center: str
    provider: str
    model: str
    request_id: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    runtime_ms: int
    offset_ms: int

    def tags(self) -> dict[str, str]:
        """Tags an agent of this team sends."""
        return {"team": self.team, "project": self.project, "cost_center": self.cost_center,
                "environment": "prod"}

    def billable_usage(self) -> dict[str, int]:
        """Disjoint billable categories (input excludes cache reads and writes)."""
        usage = {"input": self.input_tokens - self.cache_read_tokens - self.cache_write_tokens,
                 "output": self.output_tokens}
        if self.cache_read_tokens:
            usage["cache_read"] = self.cache_read_tokens
        if self.cache_write_tokens:
            usage["cache_write"] = self.cache_write_tokens
        return usage


def simulated_calls(n: int, seed: int = 0, interval_ms: int = 13_000) -> Iterator[SimulatedCall]:
    """``n`` calls ``interval_ms`` apart, deterministic for ``seed``.

    The first k calls are the same whatever ``n``, so a longer run extends a shorter one (the
    incremental-audit tests rely on it). 200,000 calls at the default interval span 30 days.
    """
    rng = random.Random(seed)
    teams = list(TEAMS)
    for i in range(n):
        team = teams[rng.randrange(len(teams))]
        info = TEAMS[team]
        provider, model = info["models"][rng.randrange(len(info["models"]))]
        if rng.random() < 0.01:
            model = "experimental-model-x"  # not in the price book: an unpriced receipt
        prompt = int(rng.lognormvariate(7.5, 1.0)) + 20
        cached = int(prompt * rng.choice((0, 0, 0.5, 0.8))) if provider != "google" or \
            prompt > 2048 else 0
        write = int((prompt - cached) * 0.5) if provider == "anthropic" and \
            rng.random() < 0.2 else 0
        output = int(rng.lognormvariate(5.5, 1.0)) + 1
        reasoning = int(output * 0.6) if model in ("o3", "gemini-2.5-pro") else 0
        yield SimulatedCall(
            team, info["projects"][rng.randrange(2)], info["cost_center"], provider, model,
            f"req-{seed}-{i}", prompt, output, cached, write, reasoning,
            int(rng.lognormvariate(6.5, 0.6)), i * interval_ms,
        )


def write_sample_ledger(out: BinaryIO, signer: Signer, n: int, *, chains: int = 1,
                        seed: int = 0, reporting_currency: str = "GBP",
                        interval_ms: int = 13_000,
                        allocation_items: Sequence[bytes] = ()) -> int:
    """A complete, valid ledger of ``n`` simulated receipts over ``chains`` chains, one call
    every ``interval_ms`` from ``START_MS`` (with ``allocation_items``, signed sets, in its
    preamble)."""
    book_bytes, book = shipped_price_book()
    rates = [FxRate("USD", "GBP", "2025-11-30", 790_000_000, "test-fixed", START_MS - 1)]
    heads = [ChainHead(f"c{i}") for i in range(chains)]
    items: list[bytes] = []

    def receipts() -> Iterator[bytes]:
        per_chain: list[list[bytes]] = [[] for _ in heads]
        for i, call in enumerate(simulated_calls(n, seed, interval_ms)):
            issued = START_MS + call.offset_ms
            c = Call(
                request_id=call.request_id, provider=call.provider, model=call.model,
                model_requested=call.model, agent=f"agent-{call.team}", tags=call.tags(),
                usage=call.billable_usage(), issued_at=issued,
                receipt_id=str(uuid.UUID(int=random.Random(seed * 1_000_003 + i).getrandbits(128))),
                runtime_ms=call.runtime_ms,
                usage_detail={"reasoning": call.reasoning_tokens} if call.reasoning_tokens
                else None,
            )
            head = heads[i % len(heads)]
            signed = sign_receipt(signer, head, c, price_fields(c, book, rates,
                                                                 reporting_currency))
            if len(heads) == 1:
                yield signed.item
            else:
                per_chain[i % len(heads)].append(signed.item)
        for chain_items in per_chain:
            yield from chain_items

    items = list(receipts()) if chains > 1 else []
    return write_ledger(
        out, signer, issuer="receipts-sample", reporting_currency=reporting_currency,
        created_at=START_MS + 31 * 86_400_000,
        key_items=[key_item(signer, START_MS - 86_400_000)],
        price_book_items=[price_book_item(signer, book_bytes)],
        fx_rate_items=[fx_rate_item(signer, r) for r in rates],
        chains=heads, receipts=items if chains > 1 else receipts(),
        allocation_items=allocation_items,
    )
