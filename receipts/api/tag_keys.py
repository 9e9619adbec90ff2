"""Tag names have one spelling: lowercase ``[a-z][a-z0-9_.:-]{0,63}``.

Spend is grouped by tag name (``receipt rollup --by team``, the CSV's ``tag_team`` column), so
``Team``, ``team `` and ``team`` stored side by side split one team's spend three ways, and no
rollup can tell that they were meant to be one. Rather than folding them silently (a receipt
must record what the agent said), any other spelling is refused (422 naming the key) wherever
a tag name enters: call tags, batch items, agents' bound tags (``POST /v1/agents``, ``receipt
agent create --tag``) and the required tags of the settings.

The syntax takes what tag names are in practice: ``cost_center``, ``environment``,
OpenTelemetry-style dotted names (``deployment.environment``) and prefixes (``aws:team``),
and keeps them at most 64 characters, a receipt's label limit (spec §3.4, §6.1). The format
itself allows any label (a version 1 verifier accepts the names written before this rule).
"""

from __future__ import annotations

import re

TAG_KEY_SYNTAX = r"[a-z][a-z0-9_.:-]{0,63}"
TAG_KEY_RULE = ("a lowercase ASCII letter, then at most 63 lowercase letters, digits, '_', '.', "
                "':' or '-' (e.g. cost_center)")
_TAG_KEY = re.compile(TAG_KEY_SYNTAX)

TAG_KEY_PATTERN = f"^{TAG_KEY_SYNTAX}$"
"""The same, anchored, for request models (pydantic; shown in the OpenAPI document)."""


def is_tag_key(name: str) -> bool:
    """Whether ``name`` is a tag name as the service writes them."""
    return _TAG_KEY.fullmatch(name) is not None


TAG_VALUE_MAX = 256
"""The longest tag value a receipt request holds (``TagValue`` in :mod:`receipts.api.schemas`)."""
TAG_COUNT_MAX = 32
"""The most tags one receipt request holds."""


def usable_tags(tags: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The tags a receipt request can carry, and the names left out (not of the tag name
    syntax, or with a longer value). For attributes that come from elsewhere (span
    attributes, a gateway's metadata): one odd name must not cost the call its receipt."""
    kept: dict[str, str] = {}
    dropped: list[str] = []
    for name, value in tags.items():
        if is_tag_key(name) and len(value) <= TAG_VALUE_MAX:
            kept[name] = value
        else:
            dropped.append(name)
    return kept, dropped
