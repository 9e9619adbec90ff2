"""Allocation files: finance's rules as TOML, YAML or JSON, turned into a spec §7.8 payload.

A file says, in decimal strings a person can check against the invoice, what each rule
charges; :func:`to_payload` turns every amount into the format's exact 10^-12 units from its
digits, in integers (never a float: a TOML or YAML float is refused, since ``0.1`` is not the
number it looks like), and refuses an amount finer than the rule's rounding step,
naming the field, rather than rounding it silently. The payload is then checked with the
verifier's own rules (:meth:`verifier.allocation.AllocationSet.from_payload`), so the service
never signs a set that ``receipt verify`` would refuse.

The file's fields, beyond the payload's ``name``, ``effective_from`` and ``by``:

* ``rounding`` (decimal string, default the reporting currency's minor unit): the step every
  shared-out part is a whole number of (the payload's ``unit``); a rule may give its own.
* ``currency`` (optional): if given, it must be the reporting currency (every amount is in it).
* ``fixed``: ``unit_price`` and ``quantities``; ``distribute``: ``amount``, ``key`` (``"spend"``,
  the default, or a map of group to weight) and ``scope``; a negative ``unit_price`` or
  ``amount`` is a credit, as is ``credit = true``; ``split``: ``match`` and ``ratios``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from receipts.errors import FieldProblem, Invalid
from verifier.allocation import SPEND_KEY, AllocationSet
from verifier.encoding import encode
from verifier.errors import SchemaError
from verifier.minor_units import minor_unit_exponent
from verifier.money import COST_SCALE, format_amount
from verifier.rollup import FIELD_GROUPS
from verifier.schema import MAX_UINT

SCALE: int = 10**COST_SCALE
DECIMAL = re.compile(r"^-?[0-9]{1,20}(\.[0-9]{1,40})?$")
"""An amount as written: optional minus, digits, decimals (no exponent, no ``+``); digits past
the 12th decimal must be zeros (the format's unit is 10^-12)."""
SET_FIELDS = frozenset({"name", "effective_from", "by", "rounding", "currency", "rules"})
KIND_FIELDS = {
    "fixed": frozenset({"unit_price", "quantities", "credit"}),
    "distribute": frozenset({"amount", "credit", "key", "scope", "rounding"}),
    "split": frozenset({"match", "ratios", "rounding"}),
}
COMMON = frozenset({"kind", "name", "category"})
UNGROUPED = frozenset(FIELD_GROUPS) - {"provider", "model", "agent"}
"""Receipt fields the service's spend aggregates do not group by (a set naming one could be
applied from a ledger but not from the database, so the two would disagree)."""


class AllocationError(Invalid):
    """An allocation file or body that is not a valid set (HTTP 422; CLI one line, exit 1)."""

    code = "invalid_allocations"


def _problem(field: str, reason: str) -> AllocationError:
    return AllocationError(f"allocations: {field}: {reason}", [FieldProblem(field, reason)])


def units(value: Any, field: str) -> int:
    """A decimal string (or an integer) as exact 10^-12 units, signed."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _problem(field, 'must be a decimal string such as "30.00" (a float is not '
                              "exact)")
    text = str(value)
    if not DECIMAL.match(text):
        raise _problem(field, "must be a decimal string such as \"30.00\"")
    whole, _, fraction = text.removeprefix("-").partition(".")
    if fraction[COST_SCALE:].strip("0"):
        raise _problem(field, "has more than 12 decimals (the format's unit is 10^-12)")
    fraction = fraction[:COST_SCALE]
    amount = int(whole) * SCALE + int(fraction.ljust(COST_SCALE, "0"))
    if amount > MAX_UINT:
        raise _problem(field, f"is too large (at most {unit_text(MAX_UINT)})")
    return -amount if text.startswith("-") else amount


def unit_text(amount: int, places: int = 0) -> str:
    """10^-12 units as the shortest decimal string with at least ``places`` decimals
    (``10000000000`` -> ``"0.01"``; ``30 * 10**12`` with 2 places -> ``"30.00"``)."""
    text = format_amount(abs(amount), COST_SCALE).rstrip("0")
    whole, _, fraction = text.partition(".")
    fraction = fraction.ljust(places, "0")
    return ("-" if amount < 0 else "") + whole + ("." + fraction if fraction else "")


def default_rounding(currency: str) -> int:
    """One minor unit of ``currency`` in 10^-12 units (a cent: 10^10)."""
    step: int = 10 ** (COST_SCALE - minor_unit_exponent(currency))
    return step


def _rounding(value: Any, field: str) -> int:
    step = units(value, field)
    if step <= 0:
        raise _problem(field, "must be above 0")
    return step


def _multiple(amount: int, step: int, field: str) -> None:
    if amount % step:
        raise _problem(field, f"has more decimals than the rounding {unit_text(step)} allows "
                              f"(a whole number of {unit_text(step)})")


def _label(data: dict[str, Any], field: str, where: str = "") -> str:
    value = data.get(field)
    name = where + field
    if not isinstance(value, str) or not value or len(value) > 64 or "\x00" in value:
        raise _problem(name, "must be non-empty text of at most 64 characters, without NUL")
    if value in UNGROUPED:
        raise _problem(name, f"{value!r} is a receipt field the spend aggregates do not group "
                             "by (use a tag, provider, model or agent)")
    return value


def _text(data: dict[str, Any], field: str, where: str = "") -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value or len(value) > 256 or "\x00" in value:
        raise _problem(where + field, "must be non-empty text of at most 256 characters, "
                                      "without NUL")
    return value


def _counts(value: Any, field: str, *, positive: bool, allow_empty: bool = False
            ) -> dict[str, int]:
    """A map of group to a whole number (TOML ``{search = 12}``)."""
    if not isinstance(value, dict) or (not value and not allow_empty):
        raise _problem(field, "must be a non-empty map of group to whole number")
    out: dict[str, int] = {}
    for group, number in value.items():
        if not isinstance(group, str) or not 0 < len(group) <= 256 or "\x00" in group:
            raise _problem(field, "groups must be text of 1..256 characters, without NUL")
        low = 1 if positive else 0
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number \
                <= MAX_UINT:
            raise _problem(f"{field}.{group}", f"must be a whole number {low} or above")
        out[group] = number
    return out


def _texts(value: Any, field: str, *, allow_empty: bool) -> dict[str, str]:
    """A map of name to the text a receipt must carry (TOML ``{provider = "openai"}``)."""
    if value is None and allow_empty:
        return {}
    if not isinstance(value, dict) or (not value and not allow_empty):
        raise _problem(field, "must be a map of name to text"
                              + ("" if allow_empty else ", with at least one entry"))
    out: dict[str, str] = {}
    for name in value:
        if not isinstance(name, str) or not 0 < len(name) <= 64 or "\x00" in name:
            raise _problem(field, "names must be text of 1..64 characters, without NUL")
        if name in UNGROUPED:
            raise _problem(f"{field}.{name}", "a receipt field the spend aggregates do not "
                                              "group by (use a tag, provider, model or agent)")
        out[name] = _text(value, name, f"{field}.")
    return out


def _credit(rule: dict[str, Any], amount: int, field: str, where: str) -> tuple[int, bool]:
    """(magnitude, credit): a negative amount is a credit, as is ``credit = true``."""
    credit = rule.get("credit", False)
    if not isinstance(credit, bool):
        raise _problem(where + "credit", "must be true or false")
    if amount < 0 and credit:
        raise _problem(where + field, "a negative amount is already a credit: drop the minus "
                                      "or credit = true")
    return abs(amount), credit or amount < 0


def _rule(rule: Any, index: int, step: int) -> dict[str, Any]:
    where = f"rules.{index}."
    if not isinstance(rule, dict) or not isinstance(rule.get("kind"), str) \
            or rule["kind"] not in KIND_FIELDS:
        raise _problem(where + "kind", "must be fixed, distribute or split")
    kind = rule["kind"]
    extra = sorted(set(rule) - COMMON - KIND_FIELDS[kind], key=str)
    if extra:
        raise _problem(where + str(extra[0]), f"unknown field of a {kind} rule")
    out: dict[str, Any] = {"kind": kind, "name": _text(rule, "name", where),
                           "category": _label(rule, "category", where)}
    if kind == "fixed":
        for field in ("unit_price", "quantities"):
            if field not in rule:
                raise _problem(where + field, "missing")
        price, credit = _credit(rule, units(rule["unit_price"], where + "unit_price"),
                                "unit_price", where)
        _multiple(price, step, where + "unit_price")
        out.update(unit_price=price, credit=credit,
                   quantities=_counts(rule["quantities"], where + "quantities",
                                      positive=False))
        return out
    if "rounding" in rule:
        step = _rounding(rule["rounding"], where + "rounding")
    if kind == "distribute":
        if "amount" not in rule:
            raise _problem(where + "amount", "missing")
        amount, credit = _credit(rule, units(rule["amount"], where + "amount"), "amount",
                                 where)
        _multiple(amount, step, where + "amount")
        key = rule.get("key", SPEND_KEY)
        if key != SPEND_KEY:
            if not isinstance(key, dict):
                raise _problem(where + "key", 'must be "spend" or a map of group to weight')
            key = _counts(key, where + "key", positive=False)
        out.update(amount=amount, unit=step, credit=credit, key=key,
                   scope=_texts(rule.get("scope"), where + "scope", allow_empty=True))
        return out
    for field in ("match", "ratios"):
        if field not in rule:
            raise _problem(where + field, "missing")
    out.update(match=_texts(rule["match"], where + "match", allow_empty=False),
               ratios=_counts(rule["ratios"], where + "ratios", positive=True), unit=step)
    return out


def to_payload(data: Any, currency: str, created_at: int) -> dict[str, Any]:
    """The spec §7.8 payload of a decoded allocation file, for the reporting ``currency``,
    recorded at ``created_at`` (checked with the verifier's rules: ``AllocationError``)."""
    if not isinstance(data, dict):
        raise _problem("allocations", "must be a table of fields and [[rules]]")
    extra = sorted(set(data) - SET_FIELDS, key=str)
    if extra:
        raise _problem(str(extra[0]), "unknown field (rules go in [[rules]] tables)")
    if data.get("currency", currency) != currency:
        raise _problem("currency", f"must be the reporting currency {currency}: every amount "
                                   "is in it")
    month = data.get("effective_from")
    if not isinstance(month, str) or not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", month):
        raise _problem("effective_from", "must be a month YYYY-MM")
    step = (_rounding(data["rounding"], "rounding") if "rounding" in data
            else default_rounding(currency))
    rules = data.get("rules")
    if not isinstance(rules, list) or not rules:
        raise _problem("rules", "must be a list of at least one rule ([[rules]] tables)")
    payload = {"v": 1, "name": _text(data, "name"), "effective_from": month,
               "created_at": created_at, "currency": currency, "by": _label(data, "by"),
               "rules": [_rule(r, i, step) for i, r in enumerate(rules)]}
    checked(payload)
    return payload


def checked(payload: dict[str, Any]) -> AllocationSet:
    """The verifier's own check of a payload (the one rule set), as an ``AllocationError``."""
    try:
        return AllocationSet.from_payload(payload, encode(payload))
    except SchemaError as e:
        found = _VERIFIER_FIELD.match(str(e))
        field = "rules" if found is None else ".".join(
            p for p in (found["rule"] and f"rules.{found['rule']}", found["field"]) if p)
        raise AllocationError(f"allocations: {e}", [FieldProblem(field, str(e))]) from None


_VERIFIER_FIELD = re.compile(r"(?:rules\[(?P<rule>[0-9]+)\]: )?field '(?P<field>[^']+)'")
"""Where the verifier's message names the field: ``rules[0]: field 'quantities.ads': ...``."""


def read_file(path: Path) -> tuple[str, Any]:
    """(format, decoded data) of an allocation file (TOML, YAML or JSON, by suffix)."""
    from receipts.policies.source import decode, read_source

    text, fmt = read_source(path, "allocation")
    return fmt, decode(text, fmt, "allocation")
