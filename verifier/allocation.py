"""Allocation sets (spec §7.8): finance's rules, as signed items, and which one is in force.

An allocation set never changes a receipt. It is read here into typed rules, checked field by
field (``schema_violation``), and applied to a month's verified totals by
:mod:`verifier.allocate` (spec §8.1). Like a price book it is content-addressed: its id is the
SHA-256 of its payload bytes, so the set a report applied can be named and found again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from verifier.errors import SchemaError
from verifier.schema import (
    MAX_UINT,
    check_currency,
    check_text,
    check_time,
    check_uint,
    exact_keys,
    field_error,
)

MAX_RULES = 256
MAX_LABEL = 64
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])", re.ASCII)
_SET_FIELDS = frozenset({"v", "name", "effective_from", "created_at", "currency", "by",
                         "rules"})
_RULE_FIELDS = {
    "fixed": frozenset({"kind", "name", "category", "unit_price", "quantities", "credit"}),
    "distribute": frozenset({"kind", "name", "category", "amount", "unit", "credit", "key",
                             "scope"}),
    "split": frozenset({"kind", "name", "category", "match", "ratios", "unit"}),
}
SPEND_KEY = "spend"


@dataclass(frozen=True)
class Fixed:
    """``quantities[g] × unit_price`` charged (or credited) to each group named."""

    name: str
    category: str
    unit_price: int
    quantities: Mapping[str, int]
    credit: bool


@dataclass(frozen=True)
class Distribute:
    """``amount`` shared out in whole ``unit``s by ``weights`` (None: by spend in ``scope``)."""

    name: str
    category: str
    amount: int
    unit: int
    credit: bool
    weights: Mapping[str, int] | None
    scope: Mapping[str, str]


@dataclass(frozen=True)
class Split:
    """The receipts matching ``match`` leave their groups, shared out by ``ratios``."""

    name: str
    category: str
    match: Mapping[str, str]
    ratios: Mapping[str, int]
    unit: int


Rule = Fixed | Distribute | Split


@dataclass(frozen=True)
class AllocationSet:
    """One verified allocation set (spec §7.8)."""

    id: bytes
    name: str
    effective_from: str
    created_at: int
    currency: str
    by: str
    rules: tuple[Rule, ...]

    @classmethod
    def from_payload(cls, payload: Any, payload_bytes: bytes) -> AllocationSet:
        """Check a decoded payload's fields and rules (``SchemaError`` naming the field)."""
        exact_keys(payload, _SET_FIELDS, frozenset(), "allocation set")
        check_text(payload, "name")
        check_time(payload, "created_at")
        check_currency(payload, "currency")
        _label(payload, "by")
        month = payload["effective_from"]
        if type(month) is not str or not _MONTH.fullmatch(month):
            raise field_error("effective_from", "must be a month YYYY-MM")
        rules = payload["rules"]
        if type(rules) is not list or not 1 <= len(rules) <= MAX_RULES:
            raise field_error("rules", f"must be a list of 1 to {MAX_RULES} rules")
        parsed = tuple(_rule(i, r) for i, r in enumerate(rules))
        if len({r.name for r in parsed}) != len(parsed):
            raise field_error("rules", "rule names must be distinct")
        return cls(hashlib.sha256(payload_bytes).digest(), payload["name"], month,
                   payload["created_at"], payload["currency"], payload["by"], parsed)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name the set reads from a receipt: ``by``, then the names its splits match
        and its distributions are scoped by (what a rollup must group by to apply it)."""
        seen = [self.by]
        for rule in self.rules:
            keys: Iterable[str] = (rule.match if isinstance(rule, Split)
                                   else rule.scope if isinstance(rule, Distribute) else ())
            seen += [k for k in keys if k not in seen]
        return tuple(seen)


def in_force(sets: Iterable[AllocationSet], month: str) -> AllocationSet | None:
    """The set in force for ``month`` (spec §8.1): the latest ``effective_from`` not after
    it, then the latest ``created_at``, then the greatest id."""
    candidates = [s for s in sets if s.effective_from <= month]
    if not candidates:
        return None
    return max(candidates, key=lambda s: (s.effective_from, s.created_at, s.id))


def _label(payload: dict[str, Any], field: str) -> None:
    check_text(payload, field, max_len=MAX_LABEL)


def _fields(rule: dict[str, Any], fields: frozenset[str], what: str) -> None:
    """Exactly the fields of the rule's kind (maps are closed, spec §1.3)."""
    missing = fields - rule.keys()
    if missing:
        raise SchemaError(f"{what}: missing field(s) {', '.join(sorted(missing))}")
    extra = rule.keys() - fields
    if extra:
        raise SchemaError(f"{what}: unknown field(s) {', '.join(sorted(map(str, extra)))}")


def _rule(index: int, rule: Any) -> Rule:
    where = f"rules[{index}]"
    if type(rule) is not dict or rule.get("kind") not in _RULE_FIELDS:
        raise field_error(f"{where}.kind", "must be fixed, distribute or split")
    kind = rule["kind"]
    try:
        _fields(rule, _RULE_FIELDS[kind], f"{kind} rule")
        check_text(rule, "name")
        _label(rule, "category")
        if kind == "fixed":
            return _fixed(rule)
        if kind == "distribute":
            return _distribute(rule)
        return _split(rule)
    except SchemaError as e:
        raise SchemaError(f"{where}: {e}") from e


def _fixed(rule: dict[str, Any]) -> Fixed:
    check_uint(rule, "unit_price")
    _bool(rule, "credit")
    quantities = _group_map(rule, "quantities", positive=False)
    for group, quantity in quantities.items():
        if quantity * rule["unit_price"] > MAX_UINT:
            raise field_error(f"quantities.{group}", "quantity × unit_price exceeds a uint")
    return Fixed(rule["name"], rule["category"], rule["unit_price"], quantities,
                 rule["credit"])


def _distribute(rule: dict[str, Any]) -> Distribute:
    check_uint(rule, "amount")
    unit = _unit(rule)
    _bool(rule, "credit")
    if rule["amount"] % unit:
        raise field_error("amount", "must be a whole number of units")
    key = rule["key"]
    weights: dict[str, int] | None = None
    if key != SPEND_KEY:
        if type(key) is not dict:
            raise field_error("key", 'must be "spend" or a map of group to weight')
        weights = _group_map(rule, "key", positive=False)
        if not any(weights.values()):
            raise field_error("key", "at least one weight must be above 0")
    scope = _text_map(rule, "scope", allow_empty=True)
    if weights is not None and scope:
        raise field_error("scope", "only a distribution by spend has a scope")
    return Distribute(rule["name"], rule["category"], rule["amount"], unit, rule["credit"],
                      weights, scope)


def _split(rule: dict[str, Any]) -> Split:
    return Split(rule["name"], rule["category"], _text_map(rule, "match", allow_empty=False),
                 _group_map(rule, "ratios", positive=True), _unit(rule))


def _unit(rule: dict[str, Any]) -> int:
    check_uint(rule, "unit")
    if rule["unit"] == 0:
        raise field_error("unit", "must be above 0")
    return int(rule["unit"])


def _bool(rule: dict[str, Any], field: str) -> None:
    if type(rule[field]) is not bool:
        raise field_error(field, "must be true or false")


def _group_map(rule: dict[str, Any], field: str, *, positive: bool) -> dict[str, int]:
    """A non-empty map of group name (non-empty text) to uint (above 0 when ``positive``)."""
    value = rule[field]
    if type(value) is not dict or not value:
        raise field_error(field, "must be a non-empty map of group to unsigned integer")
    for group, number in value.items():
        if type(group) is not str or not 0 < len(group) <= 256:
            raise field_error(field, "groups must be text of 1..256 characters")
        if type(number) is not int or not (1 if positive else 0) <= number <= MAX_UINT:
            raise field_error(f"{field}.{group}", "must be an unsigned integer"
                              + (" above 0" if positive else ""))
    return dict(value)


def _text_map(rule: dict[str, Any], field: str, *, allow_empty: bool) -> dict[str, str]:
    """A map of name (a label) to non-empty text: what a receipt must carry to match."""
    value = rule[field]
    if type(value) is not dict or (not value and not allow_empty):
        raise field_error(field, "must be a map of name to text"
                          + ("" if allow_empty else ", with at least one entry"))
    for name, text in value.items():
        if type(name) is not str or not 0 < len(name) <= MAX_LABEL:
            raise field_error(field, f"names must be text of 1..{MAX_LABEL} characters")
        if type(text) is not str or not 0 < len(text) <= 256:
            raise field_error(f"{field}.{name}", "must be non-empty text of at most 256 "
                              "characters")
    return dict(value)
