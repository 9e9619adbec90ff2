"""The receipt endpoints' models: a batch of calls, a receipt as answered, a batch's
per-item results, a page of receipts (a single call's input, :class:`~receipts.api.schemas.CallIn`,
is shared with the other routes that take a call)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from pydantic_core import core_schema as cs

from receipts.api.schemas import (
    CallIn,
    ErrorDetail,
    _Strict,
)


class DocumentedAs:
    """Annotation: validate as the annotated type, document as ``model`` (a ``$ref`` to it).

    Batch items arrive as plain objects and are validated one by one with ``model`` (so that
    one bad item of a non-atomic batch does not refuse the others); the schema still says what
    each item must be, by pointing at the very model a single call is validated with.
    """

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model

    def __get_pydantic_json_schema__(self, _schema: CoreSchema, handler: GetJsonSchemaHandler,
                                     ) -> JsonSchemaValue:
        core = self.model.__pydantic_core_schema__
        ref = core.get("ref")
        if ref is None:  # (pydantic gives every model a ref; inline it otherwise)
            return handler(core)
        return handler(cs.definitions_schema(cs.definition_reference_schema(ref), [core]))


CallItem = Annotated[dict[str, Any], DocumentedAs(CallIn)]


class BatchIn(_Strict):
    """Up to ``max_batch`` calls (1,000 by default). Items are validated one by one."""

    calls: list[CallItem] = Field(min_length=1, description=(
        "Each item is a call exactly as POST /v1/receipts takes it. At most maxItems calls "
        "(the deployment's limit; more is a 422 naming calls)."))
    atomic: bool = Field(True, strict=True, description=(
        "true: all calls are receipted or none (any bad item fails the batch); "
        "false: per-item results."))


class ReceiptOut(BaseModel):
    """A receipt: its payload as JSON (money as decimal strings) and the signed COSE bytes."""

    receipt: dict[str, Any]
    cose: str = Field(description="base64 of the tagged COSE_Sign1, exactly as in the ledger")


class BatchItemOut(BaseModel):
    """The outcome of one batch item: 201 new, 200 replay, or an error status with ``error``."""

    index: int
    status: int
    receipt: dict[str, Any] | None = None
    cose: str | None = None
    error: ErrorDetail | None = None


class BatchOut(BaseModel):
    """Per-item results, in request order."""

    results: list[BatchItemOut]


class ReceiptPage(BaseModel):
    """A page of receipts in issue order; ``next_cursor`` is null on the last page."""

    receipts: list[ReceiptOut]
    next_cursor: str | None
