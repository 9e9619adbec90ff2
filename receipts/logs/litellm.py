"""LiteLLM proxy spend logs (``LiteLLM_SpendLogs`` rows, as JSON or as a CSV export).

Tags as LiteLLM users expect them: ``team`` from the key's team alias
(``metadata.user_api_key_team_alias``), else ``team_id``; every ``key:value`` entry of
``request_tags`` (entries without a colon are not name/value pairs and are left out); and every
entry of ``metadata.spend_logs_metadata`` (caller-supplied). ``end_user`` becomes ``end_user``.
``spend`` is the cost as logged (LiteLLM's own estimate from its price map, in USD).

Usage: ``prompt_tokens`` includes cache reads and writes (LiteLLM adds Anthropic's cache
tokens in), ``completion_tokens`` includes reasoning, and the cache split is in
``metadata.additional_usage_values`` (OpenAI ``prompt_tokens_details`` or Anthropic
``cache_read_input_tokens`` / ``cache_creation_input_tokens``): the row is rebuilt as an
OpenAI Chat usage object and normalized by the service's ``openai`` rule. ``metadata`` and
``request_tags`` may be JSON text (``SpendLogsPayload``, CSV exports).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from receipts.logs.records import LogCall, ShapeError, money_units, text_tags, time_ms
from receipts.pricing.usage import normalize_usage

CSV_COLUMNS = frozenset({"request_id", "spend", "prompt_tokens", "completion_tokens", "model"})
"""A CSV header with these columns is a LiteLLM spend log export."""


def is_spend_log(obj: Mapping[str, Any]) -> bool:
    """Whether a JSON object is a spend log row (``request_id``, ``spend`` and token counts)."""
    return "spend" in obj and "request_id" in obj and ("prompt_tokens" in obj
                                                        or "call_type" in obj)


def spend_log_call(row: Mapping[str, Any], where: str) -> LogCall:
    """One spend log row (JSON values, or CSV text cells) as a call."""
    metadata = _json_field(row.get("metadata"), "metadata", where) or {}
    if not isinstance(metadata, dict):
        raise ShapeError(f"{where}: metadata must be an object")
    tags = spend_log_tags(metadata, team_id=row.get("team_id"), end_user=row.get("end_user"),
                          request_tags=_json_field(row.get("request_tags"), "request_tags",
                                                   where), where=where)
    extra = metadata.get("additional_usage_values") or {}
    if not isinstance(extra, dict):
        raise ShapeError(f"{where}: metadata.additional_usage_values must be an object")
    usage = normalize_usage("openai", _openai_usage(row, extra))
    spend = row.get("spend")
    return LogCall(
        where=where, provider=str(row.get("custom_llm_provider") or ""),
        model=str(row.get("model") or row.get("model_group") or ""),
        request_id=str(row["request_id"]) if row.get("request_id") else None,
        at_ms=time_ms(row.get("startTime"), f"{where}: startTime"), tags=tags, usage=usage,
        logged_cost=None if spend in (None, "") else money_units(spend, f"{where}: spend"),
        shape="litellm",
    )


def spend_log_tags(metadata: Mapping[str, Any], *, team_id: Any, end_user: Any,
                   request_tags: Any, where: str) -> dict[str, str]:
    """The tags of a LiteLLM call (a spend log row, or a callback's standard logging payload,
    :mod:`receipts.client.litellm`): ``team`` from the key's team alias, else the team id; the
    ``end_user``; every ``key:value`` entry of ``request_tags``; every entry of
    ``spend_logs_metadata``, in that order (a later one wins)."""
    tags: dict[str, str] = {}
    team = spend_log_team(metadata, team_id)
    if team is not None:
        tags["team"] = team
    if end_user:
        tags["end_user"] = str(end_user)
    if request_tags and not isinstance(request_tags, list | tuple):
        raise ShapeError(f"{where}: request_tags must be a list")
    for entry in request_tags or ():
        name, sep, value = str(entry).partition(":")
        if sep and name.strip() and value.strip():
            tags[name.strip()] = value.strip()
    tags.update(text_tags(metadata.get("spend_logs_metadata"), f"{where}: spend_logs_metadata"))
    return tags


def spend_log_team(metadata: Mapping[str, Any], team_id: Any) -> str | None:
    """The team LiteLLM charged a call to: the key's team alias, else the team id (a spend
    log row's ``team_id``, else the key's ``user_api_key_team_id``). The ``team`` tag of
    :func:`spend_log_tags`, and what the LiteLLM logger chooses a team's agent key by
    (:mod:`receipts.client.litellm_keys`): one rule, so the two never disagree."""
    team = metadata.get("user_api_key_team_alias") or team_id \
        or metadata.get("user_api_key_team_id")
    return str(team) if team else None


def cache_details(details: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI ``prompt_tokens_details`` with the cache split LiteLLM may report beside it, in
    Anthropic's names (``cache_read_input_tokens``, ``cache_creation_input_tokens``), so the
    service's ``openai`` rule prices cache reads and writes apart from the rest of the input."""
    out = dict(details)
    if "cached_tokens" not in out and extra.get("cache_read_input_tokens"):
        out["cached_tokens"] = extra["cache_read_input_tokens"]
    if "cache_write_tokens" not in out and extra.get("cache_creation_input_tokens"):
        out["cache_write_tokens"] = extra["cache_creation_input_tokens"]
    return out


def _openai_usage(row: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    details = cache_details(extra.get("prompt_tokens_details") or {}, extra)
    return {"prompt_tokens": _count(row.get("prompt_tokens")),
            "completion_tokens": _count(row.get("completion_tokens")),
            "prompt_tokens_details": details,
            "completion_tokens_details": dict(extra.get("completion_tokens_details") or {})}


def _count(value: Any) -> Any:
    """CSV cells are text; JSON counts stay as they are (the usage reader checks them)."""
    if value in (None, ""):
        return 0
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def _json_field(value: Any, name: str, where: str) -> Any:
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError as e:
            raise ShapeError(f"{where}: {name} is text that is not JSON") from e
    return value
