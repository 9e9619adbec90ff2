"""The per-minute cost series the detector runs on, per scope, read from the spend minutes.

``receipts_spend_minute`` (written in the append transaction) holds each group's reporting
cost per UTC minute and chain; a group (:mod:`receipts.spend.tables`) fixes a receipt's agent,
model and tags, so a scope's cost in a minute is the sum over the groups in that scope. The
scopes of a group:

* ``team=T`` (its team), ``team=T,project=P`` (its project), ``team=T,agent=A`` (its agent),
* ``model=M`` (deployment-wide: a model's spend across teams),
* one per configured tag set (``RECEIPTS_ANOMALY_TAG_SETS``, e.g. ``cost_center`` or
  ``team,environment``), when the group has every tag of the set.

Scope text is ``k=v`` pairs joined by commas, so an alert naming ``team=T`` is listed to that
team's token (:mod:`receipts.alerts.listing`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from receipts.spend.buckets import joined
from receipts.spend.tables import SpendGroupRow, SpendMinuteRow
from receipts.storage.tables import table

_MINUTE = table(SpendMinuteRow)
_GROUP = table(SpendGroupRow)

ATTRIBUTES = ("agent", "employee", "project", "model", "team")
"""What an alert names the top contributor of."""


@dataclass(frozen=True)
class Group:
    """The fields of a spend group the detector's scopes and alerts use."""

    agent: str
    model: str
    tags: dict[str, str]

    def attribute(self, name: str) -> str | None:
        """``agent``, ``model`` or a tag's value (``team``, ``project``, ``employee``...)."""
        if name == "agent":
            return self.agent
        if name == "model":
            return self.model
        return self.tags.get(name)


def _pairs(pairs: Iterable[tuple[str, str]]) -> str:
    return ",".join(f"{k}={v}" for k, v in pairs)


def scopes_of(group: Group, tag_sets: Sequence[tuple[str, ...]]) -> list[str]:
    """Every scope a group's spend counts in (see the module's docstring)."""
    team = group.tags.get("team")
    prefix = [("team", team)] if team is not None else []
    found = []
    if team is not None:
        found.append(_pairs(prefix))
    project = group.tags.get("project")
    if project is not None:
        found.append(_pairs([*prefix, ("project", project)]))
    found.append(_pairs([*prefix, ("agent", group.agent)]))
    found.append(_pairs([("model", group.model)]))
    for keys in tag_sets:
        if all(k in group.tags for k in keys):
            found.append(_pairs((k, group.tags[k]) for k in keys))
    return list(dict.fromkeys(found))


def read_groups(conn: Connection, ids: Iterable[int]) -> dict[int, Group]:
    """The groups of ``ids``."""
    wanted = sorted(set(ids))
    found: dict[int, Group] = {}
    for start in range(0, len(wanted), 500):
        rows = conn.execute(sa.select(_GROUP.c.id, _GROUP.c.agent, _GROUP.c.model,
                                      _GROUP.c.tags_json)
                            .where(_GROUP.c.id.in_(wanted[start:start + 500]))).all()
        for r in rows:
            tags: dict[str, Any] = json.loads(r.tags_json)
            found[r.id] = Group(r.agent, r.model,
                                {k: v for k, v in tags.items() if isinstance(v, str)})
    return found


def read_minutes(conn: Connection, since: int) -> dict[int, dict[int, int]]:
    """Cost per group for each minute from ``since`` (minutes since the epoch), chains summed:
    ``{minute: {group id: cost}}``, exact (10^-12 units of the reporting currency)."""
    rows = conn.execute(sa.select(_MINUTE.c.minute, _MINUTE.c.group_id,
                                  sa.func.sum(_MINUTE.c.cost_hi).label("hi"),
                                  sa.func.sum(_MINUTE.c.cost_lo).label("lo"))
                        .where(_MINUTE.c.minute >= since)
                        .group_by(_MINUTE.c.minute, _MINUTE.c.group_id)).all()
    series: dict[int, dict[int, int]] = defaultdict(dict)
    for r in rows:
        series[int(r.minute)][int(r.group_id)] = joined(r.hi, r.lo)
    return dict(series)


def prune(conn: Connection, before: int) -> int:
    """Drop minute rows older than ``before`` (outside every baseline); how many."""
    result = conn.execute(_MINUTE.delete().where(_MINUTE.c.minute < before))
    return result.rowcount or 0
