"""The HTTP API's shared models (pydantic): field types, a call's input, the error body, and
turning validation errors into fields.

Each group of routes has its models beside this module (``receipt_schemas``, ``admin_schemas``,
``ledger_schemas``, ``budget_schemas`` ...); what they share is here: the text, tag and token
field types, :class:`CallIn` (taken by the receipt, OTLP, policy and budget routes) and
:class:`ErrorBody` (every error answer).

Models are strict: a token count must be a JSON integer (not ``1.0``, not ``"1"``, not ``true``),
unknown fields are refused (a typo such as ``input_token`` must not silently price a call at
zero), and every limit is stated in the models, where the OpenAPI schema at ``/docs`` shows it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    WithJsonSchema,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from pydantic_core import core_schema as cs

from receipts.api.tag_keys import TAG_COUNT_MAX, TAG_KEY_PATTERN, TAG_VALUE_MAX
from receipts.errors import FieldProblem, Invalid
from receipts.pricing.usage_reader import MAX_COUNT

MAX_TOKENS = MAX_COUNT
"""No single LLM call reads or writes a billion tokens: larger counts are input errors (the
same bound as every provider usage format's, :data:`receipts.pricing.usage_reader.MAX_COUNT`)."""
MAX_RUNTIME_MS = 7 * 86_400_000
MAX_TAGS = TAG_COUNT_MAX


def _without_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL (U+0000)")
    return value


NUL_FREE = r"^[^\u0000]*$"
"""The same rule as a JSON schema pattern (for the document, and for path and query
parameters, which :mod:`receipts.api.no_nul` refuses before routing)."""


class _NoNul:
    """Refuses NUL (validation) and says so (``pattern`` in the JSON schema)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler,
                                     ) -> CoreSchema:
        return cs.no_info_after_validator_function(_without_nul, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler,
                                     ) -> JsonSchemaValue:
        json_schema = handler(schema)
        # The lengths are repeated in the pattern: a generator (schemathesis, hypothesis) then
        # draws strings straight from it instead of drawing and filtering by length.
        low, high = json_schema.get("minLength", 0), json_schema.get("maxLength", "")
        json_schema["pattern"] = f"^[^\\u0000]{{{low},{high}}}$"
        return json_schema


NO_NUL = _NoNul()


def _as_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string")  # (pydantic would take 0)
    return value


TEXT_ONLY = BeforeValidator(_as_text)
"""A time is sent as RFC 3339 text, as the schema says: not a number of seconds."""
"""On every text field: PostgreSQL text cannot hold NUL, and the same request must get the same
answer on SQLite (path and query parameters: :mod:`receipts.api.no_nul`)."""
Text = Annotated[str, StringConstraints(min_length=1, max_length=256), NO_NUL]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=TAG_KEY_PATTERN)]
"""One spelling of tag names (:mod:`receipts.api.tag_keys`): ``Team`` and ``team `` are not
``team``, and would split its spend."""
TagValue = Annotated[str, StringConstraints(max_length=TAG_VALUE_MAX), NO_NUL]


class _KeysAsPropertyNames:
    """Document a map's key rules as ``propertyNames`` (pydantic writes a key pattern as
    ``patternProperties``, which leaves any other key unconstrained in the schema)."""

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler,
                                     ) -> JsonSchemaValue:
        json_schema = handler(schema)
        patterns = json_schema.pop("patternProperties", None)
        if patterns:
            (pattern, values), = patterns.items()
            json_schema.setdefault("propertyNames", {})["pattern"] = pattern
            json_schema["additionalProperties"] = values
        return json_schema


Tags = Annotated[dict[TagKey, TagValue], _KeysAsPropertyNames()]
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
    tags: Tags = Field(default_factory=dict, max_length=MAX_TAGS)
    runtime_ms: Annotated[int, Field(ge=0, le=MAX_RUNTIME_MS, strict=True)] | None = None
    status: Annotated[str, StringConstraints(min_length=1, max_length=32), NO_NUL] = "ok"
    retry_of: Text | None = Field(None, description=(
        "id of the receipt (receipt.id, not the request_id) of the earlier call this one "
        "retries; the retry itself has a new request_id (the same request_id again is a "
        "replay, not a retry). Rollups count retries (spec §8)."))
    started_at: Annotated[AwareDatetime, TEXT_ONLY] | None = Field(
        None, description="RFC 3339 time the call began.")
    provider_response_id: Text | None = Field(None, description=(
        "The provider's id of the response (OpenAI chatcmpl-…/resp_…, Anthropic msg_…), kept "
        "in the receipt so it can be matched with the provider's logs."))
    reservation: Annotated[str, StringConstraints(pattern=r"^rs_[0-9a-f]{24}$")] | None = Field(
        None, description=(
            "The reservation id POST /v1/authorize returned for this call: the receipt settles "
            "it at the actual cost (releasing the estimate held against each budget). Not part "
            "of the signed receipt. Another agent's reservation is a 422; one the service does "
            "not hold (long expired, or lost) settles nothing and the receipt is recorded."))


class FieldError(BaseModel):
    """One refused input field: its dotted path (``calls.3.usage.input_tokens``) and why."""

    field: str
    reason: str


class ErrorDetail(BaseModel):
    """A stable machine ``code``, a message for people and, for bad input, the bad fields."""

    code: str = Field(examples=["invalid_request", "unauthorized", "forbidden", "not_found",
                                "conflict", "payload_too_large", "unavailable"])
    message: str
    fields: list[FieldError] = Field(default_factory=list, description=(
        "Present when particular input fields were refused."))


class ErrorBody(BaseModel):
    """Every error response of the API (any status): ``{"error": {...}}``."""

    error: ErrorDetail = Field(examples=[{
        "code": "invalid_request", "message": "1 invalid field",
        "fields": [{"field": "usage.input_tokens", "reason": "Input should be an integer"}]}])


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
