"""The HTTP API's request and response models (pydantic), and turning their errors into fields.

Models are strict: a token count must be a JSON integer (not ``1.0``, not ``"1"``, not ``true``),
unknown fields are refused (a typo such as ``input_token`` must not silently price a call at
zero), and every limit is stated here, where the OpenAPI schema at ``/docs`` shows it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)
from pydantic import ValidationError as PydanticValidationError

from receipts.api.tag_keys import TAG_KEY_PATTERN
from receipts.errors import FieldProblem, Invalid
from receipts.pricing.usage_reader import MAX_COUNT

MAX_TOKENS = MAX_COUNT
"""No single LLM call reads or writes a billion tokens: larger counts are input errors (the
same bound as every provider usage format's, :data:`receipts.pricing.usage_reader.MAX_COUNT`)."""
MAX_RUNTIME_MS = 7 * 86_400_000
MAX_TAGS = 32


def _without_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL (U+0000)")
    return value


NO_NUL = AfterValidator(_without_nul)
"""On every text field: PostgreSQL text cannot hold NUL, and the same request must get the same
answer on SQLite (path and query parameters: :mod:`receipts.api.no_nul`)."""
Text = Annotated[str, StringConstraints(min_length=1, max_length=256), NO_NUL]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=TAG_KEY_PATTERN)]
"""One spelling of tag names (:mod:`receipts.api.tag_keys`): ``Team`` and ``team `` are not
``team``, and would split its spend."""
TagValue = Annotated[str, StringConstraints(max_length=256), NO_NUL]
Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS, strict=True)]
MAX_TIER_LENGTH = 32
"""A receipt's ``service_tier`` is at most 32 characters (the format's limit)."""
UsageFormat = Literal["openai", "anthropic", "gemini", "otel"]
M = TypeVar("M", bound=BaseModel)


class _Strict(BaseModel):
    """Unknown fields refused; integers strict (field by field, so that batch items, which
    arrive already decoded, validate exactly like single calls)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class UsageIn(_Strict):
    """Token counts in the OpenTelemetry GenAI convention (parts are included in their whole)."""

    input_tokens: Tokens = Field(description="All input tokens, cache reads and writes included.")
    output_tokens: Tokens = Field(description="All output tokens, reasoning included.")
    cache_read_tokens: Tokens | None = Field(None, description="Part of input_tokens.")
    cache_write_tokens: Tokens | None = Field(None, description="Part of input_tokens.")
    reasoning_tokens: Tokens | None = Field(None, description="Part of output_tokens.")
    cache_write_1h_tokens: Tokens | None = Field(
        None, description="Part of cache_write_tokens: writes kept for 1 hour (Anthropic bills "
                          "them at their own rate).")
    web_search_requests: Tokens | None = Field(
        None, description="Server-side web searches the call made (priced per request).")


USAGE_DESCRIPTION = (
    "Without usage_format: our convention (UsageIn: OpenTelemetry GenAI counts, parts "
    "included in their whole). With usage_format: the provider's usage object exactly as the "
    "provider returned it (OpenAI Chat Completions or Responses `usage`, Anthropic `usage`, "
    "Gemini `usageMetadata`, OpenTelemetry `gen_ai.usage.*` span attributes as an object or an "
    "OTLP/JSON attribute list).")

RawUsage = Annotated[dict[str, Any] | list[Any], WithJsonSchema({"anyOf": [
    UsageIn.model_json_schema(),
    {"type": "object", "title": "Provider usage object", "additionalProperties": True},
    {"type": "array", "title": "OTLP/JSON attribute list (usage_format otel)", "items": {}},
]})]
"""``usage`` as sent; the OpenAPI schema still documents our convention (:class:`UsageIn`)."""


class CallIn(_Strict):
    """One LLM call to be receipted.

    ``usage`` is kept as sent here and read in :func:`receipts.issuing.prepare.prepare` (with
    :class:`UsageIn` for our convention, with the provider's rules otherwise), because which
    fields are valid depends on ``usage_format``.
    """

    request_id: Text = Field(description="Unique per agent; a retry with the same body is "
                                         "answered with the original receipt.")
    provider: Text
    model: Text = Field(description="The model as requested.")
    usage: RawUsage = Field(
        description=USAGE_DESCRIPTION, examples=[
            {"input_tokens": 1200, "output_tokens": 300, "cache_read_tokens": 1000},
            {"prompt_tokens": 1200, "completion_tokens": 300,
             "prompt_tokens_details": {"cached_tokens": 1000}}])
    usage_format: UsageFormat | None = Field(
        None, description="Whose convention usage follows; absent: ours (UsageIn).")
    service_tier: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TIER_LENGTH),
                            NO_NUL] | None = Field(
        None, description="The provider's service tier (batch, flex, priority; "
                          "default/standard/auto mean the standard price). "
                          "Wins over a tier named inside usage.")
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, max_length=MAX_TAGS)
    runtime_ms: Annotated[int, Field(ge=0, le=MAX_RUNTIME_MS, strict=True)] | None = None
    status: Annotated[str, StringConstraints(min_length=1, max_length=32), NO_NUL] = "ok"
    retry_of: Text | None = Field(None, description=(
        "id of the receipt (receipt.id, not the request_id) of the earlier call this one "
        "retries; the retry itself has a new request_id (the same request_id again is a "
        "replay, not a retry). Rollups count retries (spec §8)."))
    started_at: AwareDatetime | None = Field(None, description="RFC 3339 time the call began.")


class BatchIn(_Strict):
    """Up to ``max_batch`` calls (1,000 by default). Items are validated one by one."""

    calls: list[dict[str, Any]] = Field(min_length=1)
    atomic: bool = Field(True, strict=True, description=(
        "true: all calls are receipted or none (any bad item fails the batch); "
        "false: per-item results."))


class ReceiptOut(BaseModel):
    """A receipt: its payload as JSON (money as decimal strings) and the signed COSE bytes."""

    receipt: dict[str, Any]
    cose: str | None = Field(description="base64 of the tagged COSE_Sign1, exactly as in the "
                                         "ledger (null only in the benchmark baseline mode)")


class BatchItemOut(BaseModel):
    """The outcome of one batch item: 201 new, 200 replay, or an error status with ``error``."""

    index: int
    status: int
    receipt: dict[str, Any] | None = None
    cose: str | None = None
    error: dict[str, Any] | None = None


class BatchOut(BaseModel):
    """Per-item results, in request order."""

    results: list[BatchItemOut]


class ErrorBody(BaseModel):
    """Every error response: a stable code, a message and, for bad input, the bad fields."""

    error: dict[str, Any] = Field(examples=[{
        "code": "invalid_request", "message": "1 invalid field",
        "fields": [{"field": "usage.input_tokens", "reason": "Input should be an integer"}]}])


class AgentIn(_Strict):
    """A new agent key bound to a team and tags."""

    team: TagValue = Field(min_length=1)
    tags: dict[TagKey, TagValue] = Field(default_factory=dict, max_length=MAX_TAGS)


RATE_PATTERN = r"^[0-9]+(\.[0-9]{1,9})?$"
"""An FX rate as text: a plain decimal with at most 9 decimals (the format's 10^-9 scale), so
it is stored exactly; floats such as ``1e-3`` are refused, not rounded."""


class FxIn(_Strict):
    """A daily FX rate: ``rate`` units of ``quote`` per one ``base`` (decimal string)."""

    rate: Annotated[str, StringConstraints(pattern=RATE_PATTERN, max_length=32)]
    base: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    quote: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    source: Text = "manual"


def field_problems(error: PydanticValidationError, prefix: str = "") -> list[FieldProblem]:
    """Each pydantic error as a dotted field path and a reason."""
    problems = []
    for e in error.errors(include_url=False):
        path = ".".join(str(part) for part in e["loc"]) or "body"
        problems.append(FieldProblem(prefix + path, e["msg"]))
    return problems


def parse_model(model: type[M], raw: bytes | dict[str, Any], prefix: str = "") -> M:
    """Validate JSON bytes (or a decoded item) into ``model``, or raise :class:`Invalid`."""
    try:
        if isinstance(raw, bytes):
            return model.model_validate_json(raw)
        return model.model_validate(raw)
    except PydanticValidationError as e:
        problems = field_problems(e, prefix)
        raise Invalid(f"{len(problems)} invalid field(s): "
                      + "; ".join(f"{p.field}: {p.reason}" for p in problems[:5]),
                      problems) from None
