"""Properties: a call costs the same however its usage is reported; rollups add up exactly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receipts.issuing.receipt_builder import Call, price_fields, receipt_payload
from receipts.pricing.call_pricing import priced_categories
from receipts.pricing.categories import fit_usage
from receipts.pricing.model_names import ModelNames
from tests.receipts.pricing.billing import prepare_call
from tests.receipts.pricing.conftest import AT_MS
from verifier.money import COST_SCALE, cost_of, to_decimal
from verifier.pricing import FxRate
from verifier.rollup import Rollup, RollupSpec, period_of

MODELS = [("openai", "gpt-4o"), ("openai", "gpt-5"), ("anthropic", "claude-sonnet-4-5"),
          ("anthropic", "claude-haiku-4-5"), ("google", "gemini-2.5-pro"),
          ("google", "gemini-2.5-flash"), ("self-hosted", "qwen3-32b")]
COUNT = st.integers(min_value=0, max_value=400_000)
SMALL = st.integers(min_value=0, max_value=5)


@dataclass(frozen=True)
class Truth:
    """What a call really used, in disjoint parts."""

    uncached: int
    read: int
    write_5m: int
    write_1h: int
    visible_out: int
    reasoning: int
    searches: int

    @property
    def total_in(self) -> int:
        return self.uncached + self.read + self.write_5m + self.write_1h

    @property
    def total_out(self) -> int:
        return self.visible_out + self.reasoning


truths = st.builds(Truth, COUNT, COUNT, COUNT, COUNT, COUNT, COUNT, SMALL)


def renderings(t: Truth) -> dict[str, tuple[str | None, Any]]:
    """The same call as each convention reports it (where the convention can express it)."""
    out: dict[str, tuple[str | None, Any]] = {
        "ours": (None, {"input_tokens": t.total_in, "output_tokens": t.total_out,
                        "cache_read_tokens": t.read,
                        "cache_write_tokens": t.write_5m + t.write_1h,
                        "cache_write_1h_tokens": t.write_1h, "reasoning_tokens": t.reasoning,
                        "web_search_requests": t.searches}),
        "anthropic": ("anthropic", {
            "input_tokens": t.uncached, "cache_read_input_tokens": t.read,
            "cache_creation_input_tokens": t.write_5m + t.write_1h,
            "cache_creation": {"ephemeral_5m_input_tokens": t.write_5m,
                               "ephemeral_1h_input_tokens": t.write_1h},
            "output_tokens": t.total_out,
            "output_tokens_details": {"thinking_tokens": t.reasoning},
            "server_tool_use": {"web_search_requests": t.searches}}),
    }
    if t.write_1h == 0 and t.searches == 0:
        out["openai-chat"] = ("openai", {
            "prompt_tokens": t.total_in, "completion_tokens": t.total_out,
            "total_tokens": t.total_in + t.total_out,
            "prompt_tokens_details": {"cached_tokens": t.read,
                                      "cache_write_tokens": t.write_5m},
            "completion_tokens_details": {"reasoning_tokens": t.reasoning}})
        out["openai-responses"] = ("openai", {
            "input_tokens": t.total_in, "output_tokens": t.total_out,
            "input_tokens_details": {"cached_tokens": t.read, "cache_write_tokens": t.write_5m},
            "output_tokens_details": {"reasoning_tokens": t.reasoning}})
        out["otel"] = ("otel", [
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(t.total_in)}},
            {"key": "gen_ai.usage.cache_read.input_tokens", "value": {"intValue": str(t.read)}},
            {"key": "gen_ai.usage.cache_creation.input_tokens",
             "value": {"intValue": str(t.write_5m)}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": str(t.total_out)}},
            {"key": "gen_ai.usage.reasoning.output_tokens",
             "value": {"intValue": str(t.reasoning)}}])
    if t.write_5m == 0 and t.write_1h == 0 and t.searches == 0:
        out["gemini"] = ("gemini", {
            "promptTokenCount": t.total_in, "cachedContentTokenCount": t.read,
            "candidatesTokenCount": t.visible_out, "thoughtsTokenCount": t.reasoning})
    return out


def cost_of_call(names: ModelNames, provider: str, model: str, fmt: str | None, raw: Any,
                 tier: str | None) -> int | None:
    call = prepare_call(names, provider=provider, model=model, usage=raw, usage_format=fmt,
                        service_tier=tier, at_ms=AT_MS)
    result = names.book.resolve(call.provider, call.model, call.usage, call.service_tier)
    return cost_of(call.usage, result.unit_prices) if result.status == "priced" else None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(truth=truths, which=st.sampled_from(MODELS),
       tier=st.sampled_from([None, None, "batch"]))
def test_cost_never_depends_on_how_usage_was_reported(
        names: ModelNames, truth: Truth, which: tuple[str, str], tier: str | None) -> None:
    provider, model = which
    costs = {name: cost_of_call(names, provider, model, fmt, raw, tier)
             for name, (fmt, raw) in renderings(truth).items()}
    assert len(set(costs.values())) == 1, costs
    # ...and it is the cost of the true disjoint counts priced directly from the book
    entry = names.book.entries[which]
    disjoint = {"input": truth.uncached, "cache_read": truth.read,
                "cache_write": truth.write_5m, "cache_write_1h": truth.write_1h,
                "output": truth.total_out, "web_search": truth.searches}
    fitted = fit_usage(disjoint, {"reasoning": truth.reasoning},
                       priced_categories(entry, tier))
    direct = names.book.resolve(provider, model, fitted, tier)
    expected = cost_of(fitted, direct.unit_prices) if direct.status == "priced" else None
    assert set(costs.values()) == {expected}


RATES = [FxRate("USD", "GBP", "2026-10-31", 786_543_210, "test", AT_MS - 86_400_000)]
TAGS = st.fixed_dictionaries({"team": st.sampled_from(["search", "support", "research"])},
                             optional={"project": st.sampled_from(["a", "b"])})
CALLS = st.lists(st.tuples(truths, st.sampled_from([*MODELS, ("openai", "gpt-9")]), TAGS,
                           st.integers(min_value=0, max_value=3 * 86_400_000)),
                 min_size=1, max_size=40)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=CALLS, split=st.integers(min_value=0, max_value=40))
def test_a_rollup_equals_the_sum_of_its_receipts_exactly(
        names: ModelNames, calls: list[tuple[Truth, tuple[str, str], dict[str, str], int]],
        split: int) -> None:
    receipts = []
    for i, (truth, (provider, model), tags, offset) in enumerate(calls):
        fmt, raw = renderings(truth)["ours"]
        prepared = prepare_call(names, provider=provider, model=model, usage=raw,
                                usage_format=fmt, at_ms=AT_MS + offset)
        call = Call(request_id=f"r{i}", provider=prepared.provider, model=prepared.model,
                    model_requested=prepared.model_requested, agent="a", tags=tags,
                    usage=prepared.usage, issued_at=AT_MS + offset,
                    receipt_id=str(uuid.UUID(int=i)), usage_detail=prepared.usage_detail,
                    service_tier=prepared.service_tier)
        pricing = price_fields(call, names.book, RATES, "GBP")
        receipts.append(receipt_payload(call, "c0", i, bytes(32), pricing))
    for currency in ("native", "reporting"):
        spec = RollupSpec(by=("team", "project"), period="day", currency=currency)
        whole, left, right = Rollup(spec), Rollup(spec), Rollup(spec)
        for i, receipt in enumerate(receipts):
            whole.add(receipt)
            (left if i < split else right).add(receipt)
        left.merge(right)
        field = "cost" if currency == "native" else "cost_reporting"
        priced = [r[field] for r in receipts if r[field] is not None]
        assert sum(g.cost for g in whole.groups.values()) == sum(priced)
        assert sum(g.priced for g in whole.groups.values()) == len(priced)
        assert sum(g.unpriced for g in whole.groups.values()) == len(receipts) - len(priced)
        assert sum(g.receipts for g in whole.groups.values()) == len(receipts)
        assert to_decimal(sum(g.cost for g in whole.groups.values()), COST_SCALE) == \
            sum((to_decimal(c, COST_SCALE) for c in priced), Decimal(0))
        assert {k: (g.cost, g.receipts, g.tokens) for k, g in left.groups.items()} == \
            {k: (g.cost, g.receipts, g.tokens) for k, g in whole.groups.items()}
        for key, group in whole.groups.items():
            members = [r for r in receipts
                       if (r["tags"]["team"], r["tags"].get("project"),
                           period_of(r["issued_at"], "day")) == key[:3]]
            assert group.cost == sum(r[field] for r in members if r[field] is not None)
            for category, count in group.tokens.items():
                assert count == sum(r["usage"].get(category, 0) for r in members)
