"""One bound on a count for every usage format: 10^9, as our convention's request model has
always said (OpenAI's ``prompt_tokens`` of 2e9 was accepted where ``input_tokens`` was not)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from receipts.api.schemas import MAX_TOKENS
from receipts.errors import UsageFormatError
from receipts.pricing.usage import normalize_usage
from receipts.pricing.usage_reader import MAX_COUNT
from tests.receipts.conftest import Deployment, call

FORMATS: list[tuple[str | None, Callable[[int], Any], str]] = [
    (None, lambda n: {"input_tokens": n, "output_tokens": 1}, "input_tokens"),
    ("openai", lambda n: {"prompt_tokens": n, "completion_tokens": 1}, "prompt_tokens"),
    ("openai", lambda n: {"input_tokens": 1, "output_tokens": n}, "output_tokens"),
    ("anthropic", lambda n: {"input_tokens": 1, "output_tokens": 1,
                             "cache_read_input_tokens": n}, "cache_read_input_tokens"),
    ("gemini", lambda n: {"promptTokenCount": n, "candidatesTokenCount": 1},
     "promptTokenCount"),
    ("otel", lambda n: {"gen_ai.usage.input_tokens": n, "gen_ai.usage.output_tokens": 1},
     "gen_ai.usage.input_tokens"),
    ("otel", lambda n: [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(n)}},
                        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 1}}],
     "gen_ai.usage.input_tokens"),
]


def test_the_bound_is_one() -> None:
    assert MAX_COUNT == MAX_TOKENS == 1_000_000_000


@pytest.mark.parametrize(("fmt", "usage", "field"), FORMATS)
def test_every_format_takes_the_bound_and_refuses_past_it(
        fmt: str | None, usage: Callable[[int], Any], field: str) -> None:
    assert max(normalize_usage(fmt, usage(MAX_COUNT)).usage.values()) == MAX_COUNT
    with pytest.raises(UsageFormatError) as info:
        normalize_usage(fmt, usage(MAX_COUNT + 1))
    assert info.value.field == field


@pytest.mark.parametrize(("fmt", "usage", "field"), FORMATS)
def test_the_api_refuses_past_the_bound_naming_the_field(
        deployment: Deployment, fmt: str | None, usage: Callable[[int], Any],
        field: str) -> None:
    _, auth = deployment.agent()
    body = call("r", usage=usage(2 * MAX_COUNT))
    if fmt:
        body["usage_format"] = fmt
    with deployment.client() as client:
        r = client.post("/v1/receipts", json=body, headers=auth)
    assert r.status_code == 422, r.text
    assert [f["field"] for f in r.json()["error"]["fields"]] == [f"usage.{field}"]
