"""Write the sample ledger and the invoices that bill it, for ``receipt reconcile``.

``python examples/invoices/make_samples.py`` rewrites, in this directory: ``ledger.cbor`` (450
simulated calls of three teams, 2025-12-01 to 2025-12-03, signed with an example key: never use
it for anything else), ``issuer.pub.pem``, and three invoices computed from the ledger's own
receipts, line by line, then changed the way real bills differ:

* ``openai-costs.json`` (Costs API page, grouped by line item and project): every model billed
  under its dated snapshot name (an alias); gpt-4o on 2025-12-02 sent through the Batch API
  (billed at half, lines marked batch); o3 on 2025-12-01 with the cached tokens billed as plain
  input.
* ``anthropic-cost-report.json`` (cost report grouped by description; amounts are decimal
  strings in cents): claude-sonnet-4 on 2025-12-02 billed with 40% of the input the receipts
  recorded as uncached at the cache-read price (caching the agent did not report); a day,
  2025-12-04, with charges and no receipts; a web search charge no receipt covers.
* ``google-billing.csv`` (a billing export read with ``--map``): exactly the receipts.

``--check`` compares instead of writing (the files are reproducible byte for byte).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from receipts.demo.traffic import write_sample_ledger
from receipts.deployment.signing_key import Signer
from verifier import cose
from verifier.encoding import decode_strict, split_sequence
from verifier.money import COST_SCALE, format_amount
from verifier.rollup import utc_day

HERE = Path(__file__).resolve().parent
EXAMPLE_SEED = hashlib.sha256(b"receipts example invoices: not a real key").digest()
CALLS, DAYS = 450, 3
DAY_S = 86_400
Cells = dict[tuple[str, str, str], dict[str, int]]
"""(provider, model, day) -> category -> cost (10^-12 USD)."""
PROJECTS = {"search": "proj_search", "research": "proj_research"}


def ledger_bytes() -> bytes:
    """The sample ledger."""
    out = io.BytesIO()
    write_sample_ledger(out, Signer(EXAMPLE_SEED), CALLS, reporting_currency="USD",
                        interval_ms=DAYS * DAY_S * 1000 // CALLS)
    return out.getvalue()


def ledger_cells(data: bytes) -> tuple[Cells, dict[tuple[str, str, str], dict[str, int]]]:
    """Cost and tokens per provider, model, day and category, from the receipts."""
    cost: Cells = defaultdict(lambda: defaultdict(int))
    tokens: Cells = defaultdict(lambda: defaultdict(int))
    for _, item in split_sequence([data]):
        env = cose.parse(item)
        if env.content_type != cose.RECEIPT:
            continue
        r = decode_strict(env.payload)
        if r["cost"] is None:
            continue
        key = (r["provider"], r["model"], utc_day(r["issued_at"]))
        for category, count in r["usage"].items():
            cost[key][category] += count * r["unit_prices"][category]
            tokens[key][category] += count
    return cost, tokens


def _start(day: str) -> int:
    y, m, d = (int(p) for p in day.split("-"))
    return int(dt.datetime(y, m, d, tzinfo=dt.UTC).timestamp())


_NUMBER = re.compile(r'"#(-?\d+\.\d+)#"')


def _dumps(value: Any) -> str:
    """JSON with amounts as numbers written exactly (``"#0.1200#"`` -> ``0.1200``)."""
    return _NUMBER.sub(r"\1", json.dumps(value, indent=2)) + "\n"


def _dollars(units: int) -> str:
    return "#" + format_amount(units, COST_SCALE) + "#"


def _cents(units: int) -> str:
    text = format_amount(units, COST_SCALE - 2).rstrip("0")
    return text + "0" if text.endswith(".") else text


OPENAI_SNAPSHOTS = {"gpt-4o": "gpt-4o-2024-08-06", "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
                    "o3": "o3-2025-04-16"}
OPENAI_KINDS = {"input": "input", "cache_read": "cached input", "output": "output"}
MODEL_TEAM = {"gpt-4o": "search", "gpt-4o-mini": "search", "o3": "research"}


def openai_costs(cost: Cells, tokens: Cells, days: list[str]) -> str:
    """The Costs API page."""
    buckets = []
    for day in days:
        results = []
        for (provider, model, d), parts in sorted(cost.items()):
            if provider != "openai" or d != day:
                continue
            batch = model == "gpt-4o" and day == days[1]
            counts = dict(tokens[(provider, model, d)])
            parts = dict(parts)
            if model == "o3" and day == days[0]:  # cached tokens billed as input
                price = parts["input"] // counts["input"]
                counts["input"] += counts.pop("cache_read", 0)
                parts.pop("cache_read", None)
                parts["input"] = counts["input"] * price
            for category, amount in parts.items():
                kind = OPENAI_KINDS[category] + (" (batch)" if batch else "")
                results.append({
                    "object": "organization.costs.result",
                    "amount": {"value": _dollars(amount // 2 if batch else amount),
                               "currency": "usd"},
                    "line_item": f"{OPENAI_SNAPSHOTS[model]}, {kind}",
                    "project_id": PROJECTS[MODEL_TEAM[model]], "api_key_id": None,
                    "quantity": counts[category], "quantity_unit": "tokens"})
        buckets.append({"object": "bucket", "start_time": _start(day),
                        "end_time": _start(day) + DAY_S, "results": results})
    return _dumps({"object": "page", "data": buckets, "has_more": False, "next_page": None})


ANTHROPIC_TYPES = {"input": ("uncached_input_tokens", "Input Tokens"),
                   "cache_read": ("cache_read_input_tokens", "Cache Read Input Tokens"),
                   "cache_write": ("cache_creation.ephemeral_5m_input_tokens",
                                   "Cache Write (5m) Input Tokens"),
                   "output": ("output_tokens", "Output Tokens")}
ANTHROPIC_NAMES = {"claude-sonnet-4": "Claude Sonnet 4", "claude-3-5-haiku": "Claude Haiku 3.5"}
WORKSPACE = "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"


def _anthropic_row(model: str | None, category: str | None, amount: int,
                   description: str) -> dict[str, Any]:
    return {"amount": _cents(amount), "currency": "USD",
            "cost_type": "tokens" if model else "web_search", "description": description,
            "model": model,
            "token_type": ANTHROPIC_TYPES[category][0] if category else None,
            "service_tier": "standard" if model else None,
            "context_window": "0-200k" if model else None, "inference_geo": "global",
            "workspace_id": WORKSPACE}


def anthropic_costs(cost: Cells, tokens: Cells, days: list[str]) -> str:
    """The cost report, with one more day than the receipts."""
    extra = "2025-12-04"
    buckets = []
    for day in [*days, extra]:
        results = []
        source = days[-1] if day == extra else day
        for (provider, model, d), parts in sorted(cost.items()):
            if provider != "anthropic" or d != source or (day == extra and
                                                          model != "claude-3-5-haiku"):
                continue
            if model == "claude-sonnet-4" and day == days[1]:
                parts = _cached(parts, tokens[(provider, model, d)]["input"], 10)
            for category, amount in parts.items():
                results.append(_anthropic_row(
                    model, category, amount,
                    f"{ANTHROPIC_NAMES[model]} Usage - {ANTHROPIC_TYPES[category][1]}"))
        if day == days[0]:
            results.append(_anthropic_row(None, None, 30 * 10**10, "Web Search Usage"))
        buckets.append({"starting_at": f"{day}T00:00:00Z",
                        "ending_at": f"{_next(day)}T00:00:00Z",
                        "results": results})
    return json.dumps({"data": buckets, "has_more": False, "next_page": None}, indent=2) + "\n"


def _next(day: str) -> str:
    return utc_day((_start(day) + DAY_S) * 1000)


CSV_HEADER = "Usage date,Provider,Model,SKU,Cost,Currency,Token type"


def _cached(parts: dict[str, int], count: int, ratio: int) -> dict[str, int]:
    """40% of ``count`` uncached input tokens billed at the cache-read price (``ratio``: input
    over cache-read price)."""
    parts = dict(parts)
    price = parts["input"] // count
    moved = count * 4 // 10
    parts["input"] = (count - moved) * price
    parts["cache_read"] = parts.get("cache_read", 0) + moved * price // ratio
    return parts


def google_csv(cost: Cells) -> str:
    """A billing export of exactly the receipts, one line per model, day and token kind."""
    lines = [CSV_HEADER]
    for (provider, model, day), parts in sorted(cost.items()):
        if provider != "google":
            continue
        for category, amount in parts.items():
            sku = f"{model} {category.replace('_', ' ')} tokens"
            lines.append(f"{day},google,{model},{sku},{format_amount(amount, COST_SCALE)},USD,"
                         f"{category}")
    return "\n".join(lines) + "\n"


def samples() -> dict[str, bytes]:
    """Every sample file, by name."""
    data = ledger_bytes()
    cost, tokens = ledger_cells(data)
    days = sorted({d for _, _, d in cost})
    signer = Signer(EXAMPLE_SEED)
    return {
        "ledger.cbor": data,
        "issuer.pub.pem": signer.public_pem(),
        "openai-costs.json": openai_costs(cost, tokens, days).encode(),
        "anthropic-cost-report.json": anthropic_costs(cost, tokens, days).encode(),
        "google-billing.csv": google_csv(cost).encode(),
    }


def main(argv: list[str]) -> int:
    """Write the samples, or with ``--check`` report any that differ."""
    made = samples()
    if "--check" in argv:
        stale = [n for n, b in made.items() if (HERE / n).read_bytes() != b]
        for name in stale:
            print(f"{name} differs from what make_samples.py writes", file=sys.stderr)
        return 1 if stale else 0
    for name, content in made.items():
        (HERE / name).write_bytes(content)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
