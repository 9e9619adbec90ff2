"""From log lines to receipts: each line's calls checked as receipt requests, then appended.

A log call becomes what a ``POST /v1/receipts`` body would: the request id, provider, model,
tags and ``started_at`` (the call's time as logged) go through the request model and
:func:`receipts.issuing.prepare.prepare` (the same text, tag, required-tag and time rules);
the usage is the one the log readers already normalized (the service's own normalization, one
implementation). Every receipt carries ``imported`` = the file's SHA-256 and the line.

Idempotency is the service's own: the key is (agent, request id), and the body hash covers the
call as logged, so importing the same log again replays every receipt (nothing new); the same
request id logged with other content is a conflict, refused. A line is imported whole or not at
all: its calls are checked first, and a line with any refused call sends none to the writer.
The agent is designated by the administrator (one per team; see :func:`agent_for`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from receipts.api.schemas import CallIn, parse_model
from receipts.deployment.credentials import Agent
from receipts.errors import ReceiptsError
from receipts.imports.reading import LogFile
from receipts.issuing.outcome import Job
from receipts.issuing.prepare import Prepared, prepare
from receipts.logs.records import LogCall

CHUNK = 500
"""Lines of one call per append (one transaction each)."""


@dataclass
class ImportReport:
    """What an import did: receipts added, lines already imported, lines refused (and why)."""

    added: int = 0
    already: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        """The report as the CLI (``--format json``) and ``POST /v1/import`` return it."""
        return {"added": self.added, "already_imported": self.already,
                "refused": self.refused}


def agent_for(call: LogCall, agents: Sequence[Agent]) -> Agent:
    """The designated agent a call is receipted under: the one bound to the call's team, else
    the only one given (its binding then decides: a contradicting team is refused)."""
    team = call.tags.get("team")
    for agent in agents:
        if agent.team == team:
            return agent
    if len(agents) == 1:
        return agents[0]
    raise ReceiptsError(f"no designated agent for team {team!r} (agents given for "
                        f"{', '.join(sorted(a.team for a in agents))})")


def importable(call: LogCall) -> None:
    """Refuse a call no receipt can be made from, whoever it would be issued under."""
    if call.calls != 1 or call.usage is None:
        raise ReceiptsError("an aggregated or cost-only row (no single call's usage) cannot "
                            "become a receipt")
    if not call.request_id:
        raise ReceiptsError("no request id: the import could not tell a second import from "
                            "a new call")
    if call.at_ms is None:
        raise ReceiptsError("no timestamp: a receipt keeps the call's own time")


def _iso(ms: int) -> str:
    when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prepared_call(call: LogCall, agent: Agent, required_tags: Sequence[str],
                  imported: tuple[bytes, int]) -> Prepared:
    """One log call as a prepared receipt request, or the reason it cannot be one."""
    importable(call)
    assert call.usage is not None
    assert call.request_id
    assert call.at_ms is not None
    body: dict[str, Any] = {"request_id": call.request_id, "provider": call.provider,
                            "model": call.model, "tags": call.tags,
                            "usage": {"input_tokens": 0, "output_tokens": 0},
                            "started_at": _iso(call.at_ms)}
    if call.service_tier:
        body["service_tier"] = call.service_tier
    request = parse_model(CallIn, body)
    p = prepare(agent, request, required_tags)
    logged = {"import": 1, "request_id": call.request_id, "provider": call.provider,
              "model": call.model, "tags": p.tags, "usage": call.usage.usage,
              "detail": call.usage.detail, "service_tier": call.service_tier,
              "started_at": p.started_at}
    digest = hashlib.sha256(json.dumps(logged, sort_keys=True,
                                       separators=(",", ":")).encode()).digest()
    return dataclasses.replace(p, usage=call.usage, body_hash=digest, imported=imported,
                               service_tier=p.service_tier or call.usage.service_tier)


def run_import(files: Sequence[LogFile], agents: Sequence[Agent],
               required_tags: Sequence[str], check: Callable[[Prepared], None],
               append: Callable[[Job], Job]) -> ImportReport:
    """Import every line of ``files``: ``check`` refuses a call whose cost would not fit a
    receipt, ``append`` writes a job. Lines of one call share non-atomic jobs (each call its
    own outcome); a line of several calls is an atomic job, so it is never half imported."""
    report = ImportReport()
    pending: list[tuple[str, int, list[Prepared]]] = []  # lines of one call
    size = 0

    def flush() -> None:
        nonlocal size
        if pending:
            _append(pending, append, report)
            pending.clear()
            size = 0

    for log in files:
        for line in log.lines:
            if line.refusal is not None:
                report.refused.append(_refused(log.name, line.number, line.refusal))
                continue
            try:
                for c in line.calls:
                    importable(c)
                calls = [prepared_call(c, agent_for(c, agents), required_tags,
                                       (log.sha256, line.number)) for c in line.calls]
                for p in calls:
                    check(p)
            except ReceiptsError as e:
                report.refused.append(_refused(log.name, line.number, _why(e)))
                continue
            if len(calls) > 1:  # all or nothing: an atomic job of its own
                flush()
                _append_line(log.name, line.number, calls, append, report)
                continue
            pending.append((log.name, line.number, calls))
            size += len(calls)
            if size >= CHUNK:
                flush()
    flush()
    return report


def _append_line(name: str, number: int, calls: list[Prepared],
                 append: Callable[[Job], Job], report: ImportReport) -> None:
    job = append(Job(calls, atomic=True))
    if job.error is not None:
        report.refused.append(_refused(name, number, _why(job.error)))
        return
    report.added += sum(o.status == 201 for o in job.outcomes)
    report.already += sum(o.status == 200 for o in job.outcomes)


def _append(pending: list[tuple[str, int, list[Prepared]]], append: Callable[[Job], Job],
            report: ImportReport) -> None:
    job = append(Job([p for _, _, calls in pending for p in calls], atomic=False))
    if job.error is not None:
        raise job.error
    for (name, number, _), outcome in zip(pending, job.outcomes, strict=True):
        if outcome.error is not None:  # (one call a line here: refused whole)
            report.refused.append(_refused(name, number, _why(outcome.error)))
        elif outcome.status == 201:
            report.added += 1
        else:
            report.already += 1


def _why(e: ReceiptsError) -> str:
    fields = "; ".join(f"{f.field}: {f.reason}" for f in getattr(e, "fields", []) or [])
    return f"{e}" + (f" ({fields})" if fields and fields not in str(e) else "")


def _refused(name: str, number: int, reason: str) -> dict[str, Any]:
    return {"file": name, "line": number, "reason": reason}



def designated_agents(conn: Any, agent_ids: Sequence[str]) -> list[Agent]:
    """The active agents named, one per team: 404 for one unknown or revoked, 409 for two of
    the same team (which of them a line goes to would be a guess)."""
    from receipts.errors import Conflict, FieldProblem, Invalid, NotFound
    from receipts.storage import queries as store

    if not agent_ids:
        raise Invalid("at least one agent is needed to receipt imported calls",
                      [FieldProblem("agents", "name an agent (one per team)")])
    agents, teams = [], set()
    for agent_id in agent_ids:
        agent = store.active_agent(conn, agent_id)
        if agent is None:
            raise NotFound(f"no active agent {agent_id}",
                           [FieldProblem("agents", f"{agent_id}: unknown or revoked")])
        if agent.team in teams:
            raise Conflict(f"two agents given for team {agent.team}",
                           [FieldProblem("agents", "at most one agent per team")])
        teams.add(agent.team)
        agents.append(agent)
    return agents
