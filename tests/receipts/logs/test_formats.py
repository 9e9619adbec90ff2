"""Every log shape the audit reads, from the samples in examples/logs/: what each call says."""

from __future__ import annotations

from pathlib import Path

from receipts.logs.records import LogCall
from receipts.logs.sources import read_logs

LOGS = Path(__file__).resolve().parents[3] / "examples" / "logs"


def _calls(name: str, mapping: dict[str, str] | None = None) -> list[LogCall]:
    return list(read_logs([str(LOGS / name)], mapping))


def test_openai_chat_and_responses_objects_split_cached_tokens_out_of_input() -> None:
    chat, responses = _calls("openai-chat.jsonl")
    for call in (chat, responses):
        assert call.provider == "openai" and call.model == "o4-mini-2025-04-16"
        assert call.usage is not None
        assert call.usage.usage == {"input": 86, "cache_read": 1920, "output": 1300}
        assert call.usage.detail == {"reasoning": 1024}
        assert call.at_ms == 1_755_166_863_000 and call.service_tier == "default"
    assert chat.shape == "openai.chat"
    assert chat.request_id == "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"
    assert responses.shape == "openai.responses" and responses.where.endswith(":2")


def test_anthropic_message_pretty_printed_over_many_lines_is_one_record() -> None:
    (call,) = _calls("anthropic-message.json")
    assert call.where.endswith("anthropic-message.json:1") and call.shape == "anthropic"
    assert call.usage is not None
    assert call.usage.usage == {"input": 48, "cache_read": 1800, "cache_write": 148,
                                "cache_write_1h": 100, "output": 503, "web_search": 1}
    assert call.request_id == "msg_01XFDUDYJgAACzvnptvVoYEL"


def test_gemini_output_is_candidates_plus_thoughts() -> None:
    (call,) = _calls("gemini.jsonl")
    assert (call.provider, call.model, call.request_id) == ("google", "gemini-2.5-pro",
                                                            "mF2iaKfDKpGcz7IPu5OM-Qo")
    assert call.usage is not None
    assert call.usage.usage == {"input": 3858, "cache_read": 8192, "output": 1652}


def test_openai_usage_page_is_an_aggregate_of_its_requests() -> None:
    (call,) = _calls("openai-usage-page.json")
    assert call.calls == 812 and call.request_id is None and call.shape == "openai.usage"
    assert call.usage is not None
    assert call.usage.usage == {"input": 400_000, "cache_read": 600_000, "output": 120_000}
    assert call.tags == {"project_id": "proj_abc123", "api_key_id": "key_abc123",
                         "batch": "false"}
    assert call.at_ms == 1_755_129_600_000


def test_openai_costs_page_amounts_are_exact_dollars() -> None:
    first, second = _calls("openai-costs-page.json")
    assert first.usage is None and first.model == "gpt-4o-mini-2024-07-18"
    assert first.logged_cost == 60_000_000_000 and second.logged_cost == 72_000_000_000
    assert first.tags == {"project_id": "proj_abc123"}


def test_anthropic_usage_report_adds_cache_back_into_input() -> None:
    (call,) = _calls("anthropic-usage-report.json")
    assert call.usage is not None
    assert call.usage.usage == {"input": 1500, "cache_read": 200, "cache_write": 500,
                                "cache_write_1h": 1000, "output": 500, "web_search": 10}
    assert call.tags["workspace_id"] == "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"
    assert call.service_tier == "standard"


def test_anthropic_cost_report_amounts_are_cents() -> None:
    (call,) = _calls("anthropic-cost-report.json")
    assert call.logged_cost == 1_237_891_200_000  # "123.78912" cents = $1.2378912
    assert call.provider == "anthropic" and call.usage is None


def test_otlp_trace_reads_model_call_spans_not_the_agent_span() -> None:
    (call,) = _calls("otlp-trace.json")
    assert call.provider == "anthropic" and call.model == "claude-sonnet-4-20250514"
    assert call.usage is not None
    assert call.usage.usage == {"input": 48, "cache_read": 1800, "cache_write": 248,
                                "output": 503}
    assert call.tags == {"service": "checkout-assistant", "environment": "prod",
                         "team": "checkout", "project": "assistant"}
    assert call.at_ms == 1_755_166_863_000 and call.request_id == "msg_01XFDUDYJgAACzvnptvVoYEL"


def test_litellm_json_rows_take_team_alias_request_tags_and_spend_logs_metadata() -> None:
    first, second = _calls("litellm-spend.jsonl")
    assert first.tags == {"team": "search", "end_user": "customer-42", "feature": "summarize",
                          "project": "ranker"}
    assert first.logged_cost == 295_200_000 and first.usage is not None
    assert first.usage.usage == {"input": 176, "cache_read": 1024, "output": 320}
    assert first.provider == "openai" and first.model == "gpt-4o-mini-2024-07-18"
    # metadata and request_tags given as JSON text (SpendLogsPayload)
    assert second.tags == {"team": "search", "feature": "summarize", "project": "ranker"}


def test_litellm_csv_export_falls_back_to_team_id() -> None:
    first, second = _calls("litellm-spend.csv")
    assert first.tags == {"team": "search", "env": "prod", "project": "ranker"}
    assert second.tags == {"team": "team-456", "project": "triage"}
    assert second.where.endswith("litellm-spend.csv:3") and second.logged_cost == 6_900_000_000


def test_any_csv_through_a_column_map() -> None:
    mapping = {"when": "timestamp", "req": "request_id", "vendor": "provider",
               "model_name": "model", "tokens_in": "input_tokens",
               "tokens_out": "output_tokens", "cached": "cache_read_tokens", "usd": "cost",
               "owner": "tag:team", "app": "tag:project"}
    first, second = _calls("custom.csv", mapping)
    assert first.usage is not None and first.usage.usage == {"input": 200, "cache_read": 1000,
                                                             "output": 300}
    assert first.tags == {"team": "search", "project": "ranker"}
    assert second.tags == {"team": "support"} and second.request_id == "c-2"


def test_gateway_lines_wrap_every_provider_response() -> None:
    calls = _calls("gateway.jsonl")
    assert [c.shape for c in calls[:6]] == ["wrapper/openai.chat", "wrapper/anthropic",
                                            "wrapper/anthropic", "wrapper/openai.responses",
                                            "wrapper/openai.chat", "wrapper/gemini"]
    first = calls[0]
    assert first.request_id == "gw-0001" and first.tags == {"team": "search",
                                                            "project": "ranker"}
    assert first.logged_cost == 165_000_000 and first.at_ms == 1_786_702_863_000
    assert calls[7].provider == "azure"  # the wrapper's provider is who billed


def test_one_file_may_mix_shapes(tmp_path: Path) -> None:
    lines = [(LOGS / "openai-chat.jsonl").read_text().splitlines()[0],
             (LOGS / "gemini.jsonl").read_text().strip(),
             (LOGS / "litellm-spend.jsonl").read_text().splitlines()[0],
             (LOGS / "gateway.jsonl").read_text().splitlines()[1]]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n\n")
    assert [c.shape for c in read_logs([str(path)])] == [
        "openai.chat", "gemini", "litellm", "wrapper/anthropic"]
