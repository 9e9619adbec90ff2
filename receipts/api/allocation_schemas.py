"""Request and response models of the allocation routes (``/v1/allocations``).

The body is the allocation file as JSON; its rules are checked by the one converter
(:func:`receipts.allocations.source.to_payload`), whose 422 names ``rules.N.field``: a rule's
fields depend on its kind, which a JSON schema here would only restate.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from receipts.api.schemas import NUL_FREE, _Strict


class AllocationSetIn(_Strict):
    """A new allocation set: the file's fields, in JSON."""

    name: str = Field(min_length=1, max_length=256, pattern=NUL_FREE,
                      description="What finance calls the set, e.g. FY26 chargeback.")
    effective_from: str = Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$",
                                description="The first month (UTC) the set applies to.")
    by: str = Field(min_length=1, max_length=64, pattern=NUL_FREE, description=(
        "What names a group: a tag, or provider, model or agent."))
    rounding: str | None = Field(default=None, max_length=40, description=(
        "The step every shared-out part is a whole number of (decimal string; default: the "
        "reporting currency's minor unit)."))
    currency: str | None = Field(default=None, max_length=3, description=(
        "If given, the reporting currency (every amount is in it)."))
    rules: list[dict[str, Any]] = Field(min_length=1, max_length=256, description=(
        "Applied in order. kind fixed: name, category, unit_price (decimal string), "
        "quantities (group -> count), credit; distribute: name, category, amount (negative: a "
        "credit), key (\"spend\" or group -> weight), scope (name -> value), rounding; split: "
        "name, category, match (name -> value), ratios (group -> weight), rounding. A bad rule "
        "is a 422 naming rules.N.field."))


class AllocationSetOut(BaseModel):
    """A stored set: its id (SHA-256 of the signed payload), fields and rules (amounts as
    decimal strings of the currency)."""

    id: str
    name: str
    effective_from: str
    created_at: str
    currency: str
    by: str
    rule_count: int
    rules: list[dict[str, Any]]


class AllocationSets(BaseModel):
    """Every stored set, in ledger order (month, then time recorded)."""

    allocation_sets: list[AllocationSetOut]
