"""The one judgement of a call against a policy: a pure function, no database, no clock.

Receipt-time enforcement (:mod:`receipts.policies.gate`) and pre-flight authorization both call
:func:`evaluate`, so a call that authorization allowed is judged by the same rules when its
receipt is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from receipts.policies.rules import Policy, Rule, matching


@dataclass(frozen=True)
class Violation:
    """A rule a call breaks: which, how it is enforced, what to tell the caller, and the
    request field at fault (``tags.cost_center``, ``model``, ``estimated_cost``)."""

    rule: str
    kind: str
    mode: str
    message: str
    field: str
    detail: str

    @property
    def denies(self) -> bool:
        """A ``deny`` rule: the call is refused."""
        return self.mode == "deny"


def _broken(rule: Rule, provider: str, model: str, tags: Mapping[str, str],
            estimated_cost: Decimal | None) -> list[tuple[str, str]]:
    """(field, detail) for each way ``rule`` is broken (empty: it holds)."""
    if rule.kind == "require_tags":
        return [(f"tags.{t}", f"tag {t} is required") for t in rule.tags if not tags.get(t)]
    if rule.kind == "deny_models":
        if rule.providers and provider not in rule.providers:
            return []
        if matching(rule.models, model):
            return [("model", f"model {model!r} is denied")]
        return []
    assert rule.max_cost is not None
    if estimated_cost is not None and estimated_cost > rule.max_cost:
        return [("estimated_cost", f"estimated cost {estimated_cost} exceeds {rule.max_cost}")]
    return []


def evaluate(policy: Policy, provider: str, model: str, tags: Mapping[str, str],
             estimated_cost: Decimal | None) -> list[Violation]:
    """Every violation of ``policy`` by a call, in rule order.

    ``tags`` are the call's final tags (the agent's bound tags included); ``model`` is the
    model as sent; ``estimated_cost`` is in the reporting currency, None when unknown (an
    unpriced model: ``max_cost`` rules then do not judge the call).
    """
    found = []
    for rule in policy.rules:
        if not rule.applies(tags):
            continue
        for field_name, detail in _broken(rule, provider, model, tags, estimated_cost):
            found.append(Violation(rule.name, rule.kind, rule.mode, rule.message, field_name,
                                   detail))
    return found
