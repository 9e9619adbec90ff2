"""A policy document: its rules, read from TOML, YAML or JSON data and checked field by field.

A policy is a list of rules. Each has a ``name`` (unique), a ``kind``, a ``message`` (what the
caller is told), a ``mode`` (``deny``: the call is refused; ``flag``: recorded and flagged) and
an optional ``when``: tag conditions that must all hold for the rule to apply (a value, or a
list of values any of which matches). The kinds:

* ``require_tags``: ``tags`` (names) must be present and non-empty.
* ``deny_models``: ``models`` (exact names or shell patterns such as ``claude-opus-*``, matched
  against the model as sent) are refused, optionally only for ``providers``.
* ``max_cost``: ``max_cost`` (a decimal string, in the reporting currency) is the most one call
  may cost (estimated before signing: the price book in force now).

Anything else is refused with a :class:`PolicyError` naming the rule and the field, so a typo
(``mdoels``) cannot silently disable a rule.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from receipts.api.tag_keys import TAG_KEY_RULE, is_tag_key
from receipts.errors import FieldProblem, Invalid

KINDS = ("require_tags", "deny_models", "max_cost")
MODES = ("deny", "flag")
MAX_RULES = 200
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
DECIMAL = re.compile(r"^[0-9]+(\.[0-9]{1,12})?$")
"""A cost limit: a plain decimal with at most 12 decimals (the format's cost scale)."""
COMMON = {"name", "kind", "message", "mode", "when"}
FIELDS = {"require_tags": {"tags"}, "deny_models": {"models", "providers"},
          "max_cost": {"max_cost"}}


class PolicyError(Invalid):
    """A policy file or body that is not a valid policy (HTTP 422; CLI one line, exit 1)."""

    code = "invalid_policy"


@dataclass(frozen=True)
class Rule:
    """One checked rule."""

    name: str
    kind: str
    message: str
    mode: str
    when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    max_cost: Decimal | None = None

    def applies(self, tags: Mapping[str, str]) -> bool:
        """Whether every ``when`` condition holds for ``tags``."""
        return all(tags.get(k) in values for k, values in self.when.items())

    def as_json(self) -> dict[str, Any]:
        """The rule as data (what ``GET /v1/policy`` shows; money as a decimal string)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "mode": self.mode,
                               "message": self.message,
                               "when": {k: list(v) for k, v in self.when.items()}}
        if self.kind == "require_tags":
            out["tags"] = list(self.tags)
        elif self.kind == "deny_models":
            out["models"] = list(self.models)
            if self.providers:
                out["providers"] = list(self.providers)
        else:
            out["max_cost"] = str(self.max_cost)
        return out


@dataclass(frozen=True)
class Policy:
    """A checked policy: its rules in file order."""

    rules: tuple[Rule, ...] = ()

    @property
    def needs_cost(self) -> bool:
        """Whether any rule judges the cost (so a caller knows to estimate it)."""
        return any(r.kind == "max_cost" for r in self.rules)

    def needs_cost_for(self, tags: Mapping[str, str]) -> bool:
        """Whether a rule judging the cost applies to a call with ``tags`` (estimating a cost
        prices the call once more: skip it when no such rule applies)."""
        return any(r.kind == "max_cost" and r.applies(tags) for r in self.rules)

    def as_json(self) -> list[dict[str, Any]]:
        """Every rule as data."""
        return [r.as_json() for r in self.rules]


def _problem(where: str, label: str, reason: str) -> PolicyError:
    return PolicyError(f"policy {label}: {where.split('.')[-1]}: {reason}",
                       [FieldProblem(where, f"{label}: {reason}")])


def _texts(value: Any, where: str, label: str, *, tag_keys: bool = False) -> tuple[str, ...]:
    """A non-empty list of non-empty strings (a lone string is a list of one)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(
            isinstance(v, str) and v and "\x00" not in v and len(v) <= 256 for v in items):
        raise _problem(where, label, "must be a non-empty list of non-empty strings")
    if tag_keys:
        for v in items:
            if not is_tag_key(v):
                raise _problem(where, label, f"{v!r} is not a tag name ({TAG_KEY_RULE})")
    return tuple(items)


def _when(value: Any, where: str, label: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise _problem(where, label, "must be a table of tag = value (or [values])")
    out = {}
    for key, wanted in value.items():
        if not isinstance(key, str) or not is_tag_key(key):
            raise _problem(where, label, f"{key!r} is not a tag name ({TAG_KEY_RULE})")
        out[key] = _texts(wanted, f"{where}.{key}", label)
    return out


def _max_cost(value: Any, where: str, label: str) -> Decimal:
    if not isinstance(value, str) or not DECIMAL.match(value):
        raise _problem(where, label, "must be a decimal string such as \"2.50\" (at most 12 "
                                     "decimals; not a number, so it is exact)")
    try:
        return Decimal(value)
    except InvalidOperation:  # (the pattern admits only plain decimals)
        raise _problem(where, label, "not a decimal") from None


def parse_rule(raw: Any, index: int, seen: set[str]) -> Rule:
    """One rule from data, or a :class:`PolicyError` naming it and its bad field."""
    where = f"rules.{index}"
    if not isinstance(raw, dict):
        raise _problem(where, f"rule {index + 1}", "must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise _problem(f"{where}.name", f"rule {index + 1}",
                       "a name is required: a letter or digit, then up to 63 letters, digits "
                       "or _ . : -")
    label = f"rule {name!r}"
    if name in seen:
        raise _problem(f"{where}.name", label, "another rule has this name")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise _problem(f"{where}.kind", label, f"must be one of {', '.join(KINDS)}")
    unknown = sorted(set(raw) - COMMON - FIELDS[kind])
    if unknown:
        raise _problem(f"{where}.{unknown[0]}", label, f"not a field of a {kind} rule (fields: "
                       + ", ".join(sorted(COMMON | FIELDS[kind])) + ")")
    message = raw.get("message")
    if not isinstance(message, str) or not message.strip() or len(message) > 1000 \
            or "\x00" in message:
        raise _problem(f"{where}.message", label, "a message (1..1000 characters) is required")
    mode = raw.get("mode", "deny")
    if mode not in MODES:
        raise _problem(f"{where}.mode", label, "must be \"deny\" or \"flag\"")
    when = _when(raw.get("when", {}), f"{where}.when", label)
    common = {"name": name, "kind": kind, "message": message, "mode": mode, "when": when}
    for needed in sorted(FIELDS[kind] - {"providers"}):
        if needed not in raw:
            raise _problem(f"{where}.{needed}", label, f"a {kind} rule needs {needed}")
    if kind == "require_tags":
        return Rule(**common, tags=_texts(raw["tags"], f"{where}.tags", label, tag_keys=True))
    if kind == "deny_models":
        providers = raw.get("providers")
        return Rule(**common, models=_texts(raw["models"], f"{where}.models", label),
                    providers=() if providers is None
                    else _texts(providers, f"{where}.providers", label))
    return Rule(**common, max_cost=_max_cost(raw["max_cost"], f"{where}.max_cost", label))


def parse_policy(data: Any) -> Policy:
    """A policy from decoded data ``{"rule": [...]}`` (TOML's ``[[rule]]``) or
    ``{"rules": [...]}``, checked whole."""
    if not isinstance(data, dict):
        raise PolicyError("a policy is a table of rules", [FieldProblem("rules", "missing")])
    extra = sorted(set(data) - {"rule", "rules"})
    if extra or ("rule" in data and "rules" in data):
        name = extra[0] if extra else "rule"
        raise PolicyError(f"policy: unknown top-level key {name!r} (write rules as [[rule]])",
                          [FieldProblem(name, "unknown top-level key")])
    rules = data.get("rule", data.get("rules", []))
    if not isinstance(rules, list):
        raise PolicyError("policy: rules must be a list ([[rule]] tables)",
                          [FieldProblem("rules", "must be a list")])
    if len(rules) > MAX_RULES:
        raise PolicyError(f"policy: at most {MAX_RULES} rules",
                          [FieldProblem("rules", f"at most {MAX_RULES}")])
    seen: set[str] = set()
    parsed = []
    for i, raw in enumerate(rules):
        rule = parse_rule(raw, i, seen)
        seen.add(rule.name)
        parsed.append(rule)
    return Policy(tuple(parsed))


def canonical_json(policy: Policy) -> str:
    """A policy's rules as canonical JSON text (what a version made over HTTP stores)."""
    return json.dumps({"rules": policy.as_json()}, sort_keys=True, separators=(",", ":"))


def sha256_hex(text: str) -> str:
    """The digest a policy version is known by (of its source text, as stored)."""
    return hashlib.sha256(text.encode()).hexdigest()


@functools.lru_cache(maxsize=1024)
def _pattern(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


def matching(patterns: tuple[str, ...], value: str) -> bool:
    """Whether ``value`` matches one of ``patterns`` (``*``, ``?``, ``[...]``, whole names;
    case as written: model names are lowercase by convention)."""
    return _pattern(patterns).match(value) is not None
