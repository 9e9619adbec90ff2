"""Policy rules: each kind judged by the pure ``evaluate``, and every bad file or field refused
with the rule and field named."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from receipts.policies.evaluate import Violation, evaluate
from receipts.policies.rules import Policy, PolicyError, parse_policy
from receipts.policies.source import decode, read_policy_file

POLICY = """
[[rule]]
name = "team-and-project"
kind = "require_tags"
tags = ["team", "project"]
message = "every call names its team and project"

[[rule]]
name = "prod-cost-center"
kind = "require_tags"
when = { environment = ["production", "prod"] }
tags = "cost_center"
message = "production calls name a cost_center"

[[rule]]
name = "no-opus-in-dev"
kind = "deny_models"
mode = "flag"
when = { environment = "dev" }
models = ["claude-opus-*", "gpt-4.5"]
providers = ["anthropic", "openai"]
message = "use a smaller model in dev"

[[rule]]
name = "call-limit"
kind = "max_cost"
max_cost = "2.50"
message = "no single call above 2.50"
"""


def policy() -> Policy:
    return parse_policy(decode(POLICY, "toml"))


def names(found: list[Violation]) -> list[tuple[str, str, str]]:
    return [(v.rule, v.mode, v.field) for v in found]


def test_required_tags_and_conditions() -> None:
    p = policy()
    ok = {"team": "search", "project": "ranker", "environment": "dev"}
    assert evaluate(p, "openai", "gpt-4o", ok, None) == []
    assert names(evaluate(p, "openai", "gpt-4o", {"team": "search", "project": ""}, None)) == [
        ("team-and-project", "deny", "tags.project")]
    prod = {**ok, "environment": "production"}
    (v,) = evaluate(p, "openai", "gpt-4o", prod, None)
    assert (v.rule, v.field, v.denies) == ("prod-cost-center", "tags.cost_center", True)
    assert v.message == "production calls name a cost_center"
    assert evaluate(p, "openai", "gpt-4o", {**prod, "environment": "prod", "cost_center": "cc1"},
                    None) == []


def test_denied_models_per_environment() -> None:
    p = policy()
    dev = {"team": "a", "project": "b", "environment": "dev"}
    assert names(evaluate(p, "anthropic", "claude-opus-4-1", dev, None)) == [
        ("no-opus-in-dev", "flag", "model")]
    assert names(evaluate(p, "openai", "gpt-4.5", dev, None)) == [
        ("no-opus-in-dev", "flag", "model")]
    assert evaluate(p, "openai", "gpt-4.5-mini", dev, None) == []  # patterns match whole names
    assert evaluate(p, "bedrock", "claude-opus-4-1", dev, None) == []  # not a listed provider
    assert evaluate(p, "anthropic", "claude-opus-4-1", {**dev, "environment": "staging"},
                    None) == []


def test_maximum_cost_is_exact() -> None:
    p = policy()
    tags = {"team": "a", "project": "b"}
    assert evaluate(p, "openai", "gpt-4o", tags, Decimal("2.50")) == []
    (v,) = evaluate(p, "openai", "gpt-4o", tags, Decimal("2.500000000001"))
    assert (v.rule, v.field) == ("call-limit", "estimated_cost")
    assert "2.500000000001 exceeds 2.50" in v.detail
    assert evaluate(p, "openai", "unknown-model", tags, None) == []  # unpriced: not judged
    assert p.needs_cost and not parse_policy({"rules": []}).needs_cost
    only_dev = parse_policy({"rules": [{**p.rules[3].as_json(), "when": {"environment": "dev"}}]})
    assert only_dev.needs_cost_for({"environment": "dev"})
    assert not only_dev.needs_cost_for({"environment": "prod"})


def test_every_violation_in_rule_order() -> None:
    found = evaluate(policy(), "anthropic", "claude-opus-4", {"environment": "dev"},
                     Decimal(3))
    assert names(found) == [("team-and-project", "deny", "tags.team"),
                            ("team-and-project", "deny", "tags.project"),
                            ("no-opus-in-dev", "flag", "model"),
                            ("call-limit", "deny", "estimated_cost")]


def test_rules_round_trip_as_data() -> None:
    p = policy()
    assert parse_policy({"rules": p.as_json()}) == p
    assert p.as_json()[3] == {"name": "call-limit", "kind": "max_cost", "mode": "deny",
                              "message": "no single call above 2.50", "when": {},
                              "max_cost": "2.50"}


BAD = [
    ('[[rule]]\nkind = "require_tags"\ntags = ["a"]\nmessage = "m"', "rules.0.name",
     "rule 1"),
    ('[[rule]]\nname = "r"\nkind = "require_tag"\ntags = ["a"]\nmessage = "m"',
     "rules.0.kind", "rule 'r'"),
    ('[[rule]]\nname = "r"\nkind = "deny_models"\nmdoels = ["x"]\nmessage = "m"',
     "rules.0.mdoels", "rule 'r'"),
    ('[[rule]]\nname = "r"\nkind = "deny_models"\nmessage = "m"', "rules.0.models",
     "rule 'r'"),
    ('[[rule]]\nname = "r"\nkind = "require_tags"\ntags = ["a"]', "rules.0.message",
     "rule 'r'"),
    ('[[rule]]\nname = "r"\nkind = "require_tags"\ntags = ["a"]\nmessage = "m"\n'
     'mode = "warn"', "rules.0.mode", "rule 'r'"),
    ('[[rule]]\nname = "r"\nkind = "max_cost"\nmax_cost = 2.5\nmessage = "m"',
     "rules.0.max_cost", "rule 'r'"),
    ('[[rule]]\nname = "r"\nkind = "max_cost"\nmax_cost = "1e3"\nmessage = "m"',
     "rules.0.max_cost", "rule 'r'"),
    ('[[rule]]\nname = "r"\nkind = "require_tags"\ntags = ["Team"]\nmessage = "m"',
     "rules.0.tags", "rule 'r'"),
    ('[[rule]]\nname = "r"\nkind = "require_tags"\ntags = []\nmessage = "m"',
     "rules.0.tags", "rule 'r'"),
    ('[[rule]]\nname = "r"\nkind = "require_tags"\ntags = ["a"]\nmessage = "m"\n'
     'when = { Environment = "prod" }', "rules.0.when", "rule 'r'"),
    ('[[rule]]\nname = "r"\nkind = "require_tags"\ntags = ["a"]\nmessage = "m"\n'
     'when = { environment = 1 }', "rules.0.when.environment", "rule 'r'"),
    ('[[rule]]\nname = "r"\nkind = "require_tags"\ntags = ["a"]\nmessage = "m"\n'
     '[[rule]]\nname = "r"\nkind = "require_tags"\ntags = ["b"]\nmessage = "m"',
     "rules.1.name", "rule 'r'"),
    ('rules = 3', "rules", "rules"),
    ('[[rules]]\nname = "r"', "rules.0.kind", "rule 'r'"),
    ('[[rule]]\nname = "r"\n[[other]]\nx = 1', "other", "other"),
]


@pytest.mark.parametrize(("text", "field", "named"), BAD)
def test_bad_rules_name_the_rule_and_field(text: str, field: str, named: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(decode(text, "toml"))
    assert caught.value.status == 422
    assert caught.value.fields[0].field == field
    assert named in str(caught.value) and "\n" not in str(caught.value)


def test_unreadable_files(tmp_path: Path) -> None:
    broken = tmp_path / "p.toml"
    broken.write_text('[[rule]]\nname = "r\n')
    with pytest.raises(PolicyError, match="not valid TOML"):
        read_policy_file(broken)
    with pytest.raises(PolicyError, match=r"\.toml, \.yaml"):
        read_policy_file(tmp_path / "p.txt")
    with pytest.raises(PolicyError, match="No such file"):
        read_policy_file(tmp_path / "missing.toml")
    (tmp_path / "p.json").write_bytes(b'{"rules": [}')
    with pytest.raises(PolicyError, match="not valid JSON"):
        read_policy_file(tmp_path / "p.json")


def test_yaml_files(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / "p.yaml"
    path.write_text("rules:\n  - name: prod-cc\n    kind: require_tags\n"
                    "    when: {environment: production}\n    tags: [cost_center]\n"
                    "    message: production calls name a cost_center\n")
    text, fmt, parsed = read_policy_file(path)
    assert fmt == "yaml" and text == path.read_text()
    assert parsed.rules[0].when == {"environment": ("production",)}
    path.write_text("rules: [\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        read_policy_file(path)
