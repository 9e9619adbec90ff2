"""What receipt-time policy enforcement costs per call: ``PolicyGate.judge`` on prepared calls.

Run: ``python bench/policy.py [--calls 20000]``

Prints microseconds per call (median of 5 runs) with no policy, with tag and model rules only,
and with a ``max_cost`` rule too (which prices the call once more, under the book in force
now), next to ``prepare`` itself for scale. A SQLite deployment in a temporary directory, the
small shipped price book.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from receipts.api.schemas import CallIn
from receipts.clock import now_ms
from receipts.deployment.credentials import Agent
from receipts.deployment.runtime import initialize, open_runtime
from receipts.deployment.settings import Settings, default_db_url
from receipts.issuing.prepare import prepare
from receipts.policies import store
from receipts.policies.gate import PolicyGate
from receipts.policies.rules import parse_policy

TAGS_AND_MODELS = [
    {"name": "team-project", "kind": "require_tags", "tags": ["team", "project"],
     "message": "m"},
    {"name": "prod-cc", "kind": "require_tags", "when": {"environment": "prod"},
     "tags": ["cost_center"], "message": "m", "mode": "flag"},
    {"name": "no-opus-dev", "kind": "deny_models", "when": {"environment": "dev"},
     "models": ["claude-opus-*"], "message": "m"},
]
WITH_COST = [*TAGS_AND_MODELS, {"name": "limit", "kind": "max_cost", "max_cost": "5",
                                "message": "m"}]


def per_call_us(action: Callable[[Any], object], calls: Sequence[Any], runs: int = 5) -> float:
    """Median over ``runs`` of the time per call of ``action(call)``, in microseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for c in calls:
            action(c)
        times.append((time.perf_counter() - start) / len(calls) * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        settings = Settings(data_dir=data, db_url=default_db_url(data))
        initialize(settings, issuer="bench", reporting_currency="USD", price_book="shipped")
        runtime = open_runtime(settings)
        try:
            runtime.service.load_pricing()
            agent = Agent("agt_bench", "search", {"project": "ranker"})
            bodies = [CallIn.model_validate({
                "request_id": f"r{i}", "provider": "openai",
                "model": "gpt-4o" if i % 2 else "gpt-4o-mini",
                "usage": {"input_tokens": 1000 + i % 500, "output_tokens": 200},
                "tags": {"environment": "prod" if i % 3 else "dev", "cost_center": "cc1"}})
                for i in range(args.calls)]
            prepared = [prepare(agent, b, ("team", "project")) for b in bodies]
            gate = PolicyGate(runtime)
            print(f"{args.calls} calls; microseconds per call (median of 5 runs)")
            scale = per_call_us(lambda b: prepare(agent, b, ("team", "project")), bodies)
            print(f"  prepare (for scale)         {scale:8.2f}")
            print(f"  judge, no policy            {per_call_us(gate.judge, prepared):8.2f}")
            for label, rules in (("judge, tags and models", TAGS_AND_MODELS),
                                 ("judge, + max_cost", WITH_COST)):
                with runtime.db.write() as conn:
                    gate.use(store.add_policy(conn, parse_policy({"rules": rules}), now_ms()))
                print(f"  {label:<27} {per_call_us(gate.judge, prepared):8.2f}")
        finally:
            runtime.close()


if __name__ == "__main__":
    main()
