"""Organization usage and cost reports: aggregated rows, not calls.

* OpenAI Usage API page (``/v1/organization/usage/completions``): ``{"object": "page", "data":
  [bucket]}``, results ``organization.usage.completions.result``. ``input_tokens`` includes
  cached and cache-write tokens; a row is ``num_model_requests`` calls.
* OpenAI Costs API page (``/v1/organization/costs``): results ``organization.costs.result``,
  ``amount.value`` in dollars (read as an exact decimal); the model is the part of
  ``line_item`` before its comma.
* Anthropic usage report (``/v1/organizations/usage_report/messages``): buckets with
  ``starting_at`` and results with ``uncached_input_tokens`` (excludes cache), cache reads and
  ``cache_creation.ephemeral_5m/1h_input_tokens``.
* Anthropic cost report (``/v1/organizations/cost_report``): results with ``amount``, a decimal
  string in **cents**.

Grouping dimensions become tags under their own names (``project_id``, ``api_key_id``,
``user_id``, ``workspace_id``, ...) when the report was grouped by them (null otherwise).
Aggregates are far above one call's counts, so their counts are checked here (exact
non-negative integers, parts within wholes) and turned into categories by
:func:`receipts.pricing.usage.ours_from_counts`, the rule of the service's own convention.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from receipts.logs.records import LogCall, ShapeError, money_units, time_ms
from receipts.pricing.usage import ours_from_counts

_OPENAI_DIMS = ("project_id", "user_id", "api_key_id", "batch")
_ANTHROPIC_DIMS = ("workspace_id", "api_key_id", "account_id", "service_account_id",
                   "context_window", "inference_geo")


def report_kind(obj: Mapping[str, Any]) -> str | None:
    """``openai.usage``, ``openai.costs``, ``anthropic.usage``, ``anthropic.costs`` or None."""
    data = obj.get("data")
    if not isinstance(data, list):
        return None
    for bucket in data:
        results = bucket.get("results") if isinstance(bucket, dict) else None
        if not isinstance(results, list):
            return None
        for result in results:
            if not isinstance(result, dict):
                return None
            kind = str(result.get("object", ""))
            if kind.startswith("organization.usage."):
                return "openai.usage"
            if kind == "organization.costs.result":
                return "openai.costs"
            if "uncached_input_tokens" in result:
                return "anthropic.usage"
            if isinstance(result.get("amount"), str):
                return "anthropic.costs"
        if results == [] and ("start_time" in bucket or "starting_at" in bucket):
            continue
    return "empty" if obj.get("object") == "page" or "has_more" in obj else None


def report_rows(kind: str, obj: Mapping[str, Any], where: str) -> Iterator[LogCall]:
    """Every result row of a report page as an aggregated call (or a cost row)."""
    for b, bucket in enumerate(obj["data"]):
        start = bucket.get("start_time", bucket.get("starting_at"))
        at = time_ms(start, f"{where}: data[{b}].start")
        for r, row in enumerate(bucket.get("results") or []):
            here = f"{where}: data[{b}].results[{r}]"
            yield _ROWS[kind](row, here, at)


def _openai_usage(row: Mapping[str, Any], where: str, at: int | None) -> LogCall:
    total_in, total_out = _n(row, "input_tokens", where), _n(row, "output_tokens", where)
    read, write = _n(row, "input_cached_tokens", where), _n(row, "input_cache_write_tokens",
                                                            where)
    _within(read + write, "input_cached_tokens + input_cache_write_tokens", total_in,
            "input_tokens", where)
    usage = ours_from_counts(total_in, total_out, read, write, 0, 0, 0)
    tier = row.get("service_tier") if isinstance(row.get("service_tier"), str) else None
    if row.get("batch") is True:
        tier = "batch"
    return LogCall(where, "openai", str(row.get("model") or ""), at_ms=at,
                   tags=_dims(row, _OPENAI_DIMS), usage=usage, service_tier=tier,
                   calls=_n(row, "num_model_requests", where), shape="openai.usage")


def _openai_costs(row: Mapping[str, Any], where: str, at: int | None) -> LogCall:
    amount = row.get("amount")
    if not isinstance(amount, dict):
        raise ShapeError(f"{where}: amount must be {{value, currency}}")
    _usd(amount.get("currency"), where)
    model = str(row.get("line_item") or "").split(",", 1)[0].strip()
    return LogCall(where, "openai", model, at_ms=at, tags=_dims(row, _OPENAI_DIMS),
                   logged_cost=money_units(amount.get("value"), f"{where}: amount.value"),
                   calls=0, shape="openai.costs")


def _anthropic_usage(row: Mapping[str, Any], where: str, at: int | None) -> LogCall:
    uncached, out = _n(row, "uncached_input_tokens", where), _n(row, "output_tokens", where)
    read = _n(row, "cache_read_input_tokens", where)
    creation = row.get("cache_creation") or {}
    if not isinstance(creation, dict):
        raise ShapeError(f"{where}: cache_creation must be an object")
    five = _n(creation, "ephemeral_5m_input_tokens", f"{where}: cache_creation")
    hour = _n(creation, "ephemeral_1h_input_tokens", f"{where}: cache_creation")
    tools = row.get("server_tool_use") or {}
    searches = _n(tools, "web_search_requests", where) if isinstance(tools, dict) else 0
    usage = ours_from_counts(uncached + read + five + hour, out, read, five + hour, hour, 0,
                             searches)
    tier = row.get("service_tier") if isinstance(row.get("service_tier"), str) else None
    return LogCall(where, "anthropic", str(row.get("model") or ""), at_ms=at,
                   tags=_dims(row, _ANTHROPIC_DIMS), usage=usage, service_tier=tier, calls=0,
                   shape="anthropic.usage")


def _anthropic_costs(row: Mapping[str, Any], where: str, at: int | None) -> LogCall:
    _usd(row.get("currency"), where)
    return LogCall(where, "anthropic", str(row.get("model") or ""), at_ms=at,
                   tags=_dims(row, _ANTHROPIC_DIMS),
                   logged_cost=money_units(row.get("amount"), f"{where}: amount", divisor=100),
                   calls=0, shape="anthropic.costs")


_ROWS = {"openai.usage": _openai_usage, "openai.costs": _openai_costs,
         "anthropic.usage": _anthropic_usage, "anthropic.costs": _anthropic_costs}


def _n(row: Mapping[str, Any], name: str, where: str) -> int:
    value = row.get(name)
    if value is None:
        return 0
    if type(value) is not int or value < 0:
        raise ShapeError(f"{where}: {name} must be a non-negative integer, got {value!r}")
    return value


def _within(part: int, part_name: str, whole: int, whole_name: str, where: str) -> None:
    if part > whole:
        raise ShapeError(f"{where}: {part_name} ({part}) exceeds {whole_name} ({whole})")


def _usd(currency: Any, where: str) -> None:
    if str(currency or "usd").upper() != "USD":
        raise ShapeError(f"{where}: currency {currency!r}: only USD amounts are compared with "
                         "the price book")


def _dims(row: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for name in names:
        value = row.get(name)
        if value is not None:
            out[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return out
