"""Several teams behind one LiteLLM proxy: each team's calls under that team's own agent key.

Why a key per team: in the service an agent key belongs to one team
(:mod:`receipts.deployment.credentials`). The agent's team is a *bound* tag: it is forced into
every receipt the key gets, and a call whose ``team`` tag names another team is refused.
Exactly what happens today when a logger with one key sees a call of another team (the
``team`` tag is the virtual key's team alias, else its team id): the service's ``bind_tags``
answers 403 naming ``tags.team`` ("tags contradict the agent's bound team or tags"); the
client raises ``ReceiptRefused`` and, that refusal being about the call itself
(:func:`receipts.client.wire.refuses_the_call`), does not keep it in the spool (a spooled call
refused so is set aside in the spool's ``refused`` table); the logger reports it to
``on_error`` (by default a warning) and the call has no receipt. The LLM call itself is not
touched. A call naming no team is receipted under the key's own team. So with one key, a
multi-team proxy receipts one team's calls and loses the others'.

The key map: ``ReceiptsLogger(default, keys={"search": search_client, ...})``. A call goes
through the client of its LiteLLM team, read by the spend log rule
(:func:`receipts.logs.litellm.spend_log_team`: the key's ``user_api_key_team_alias``, else its
team id), never from the tags a client sends (``spend_logs_metadata``, request tags): a caller
cannot pick the key another team is charged with. The map's agents must be made with the
LiteLLM team as their team (``receipt agent create --team search``), or the service refuses
their calls as above.

The rule for a call whose team has no entry (a team made in the proxy after the map was
written, a key with no team): it goes to the default client. Its ``team`` tag, when it is the
LiteLLM team, is kept as ``litellm_team`` instead, so the default agent's bound team accepts
it and finance sees which team spent it: the default is the catch-all, and nothing is dropped.
(The client cannot know the default agent's own team: map that team to the default client,
or its calls carry ``litellm_team`` too. Without a map, a logger is as it was: each call goes
with its one key, team kept, and another team's call is refused as above.)
Without a default (possible only from code) the call is not sent: it is reported to
``on_error`` as :class:`~receipts.errors.UnmappedTeam` and counted in the logger's ``unsent``
(by team, ``""`` for none). A logger with neither a default nor a map entry is refused when
made. The proxy's ``handler`` always has a default: ``$RECEIPTS_AGENT_KEY`` stays required.

One client, and so one spool, per agent key: a spool is delivered with its client's key, so
a call spooled under one team's key can never be delivered under another's. The handler's
team clients spool beside ``$RECEIPTS_SPOOL``: ``receipts-spool.sqlite`` gives
``receipts-spool-search.sqlite`` (``receipt spool flush`` delivers one with that team's key).

``$RECEIPTS_AGENT_KEYS`` names a ``.toml`` or ``.json`` file mapping each team to its agent
key: a file holding the key (a relative path is read from the map's folder), or the key text
itself (``rk_`` and URL-safe characters only). A key file, and a map that holds key text, must
not be readable by others (``chmod 600``), as the signing key must not; keys never appear in a
message. Any problem with the map stops the proxy at start-up (:class:`AgentKeysError`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from receipts.client.background import blocking_twin
from receipts.client.clients import AsyncReceiptsClient, ReceiptsClient
from receipts.client.sdk import CallFacts, OnError, Recorder
from receipts.errors import AgentKeysError, UnmappedTeam
from receipts.logs.litellm import spend_log_team
from receipts.private_files import readable_by_others

Client = ReceiptsClient | AsyncReceiptsClient
MakeRecorder = Callable[[Client, bool], Recorder]
"""Makes a recorder for a client with the logger's settings (``background`` or not)."""

KEYS_ENV = "RECEIPTS_AGENT_KEYS"
UNMAPPED_TEAM_TAG = "litellm_team"
"""Where the LiteLLM team of a call sent with the default key is kept (see the module)."""
AGENT_KEY = re.compile(r"rk_[A-Za-z0-9_-]+")
"""An agent key as ``receipt agent create`` makes them (``rk_`` and URL-safe base64)."""
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""A team name used as it is in a spool file's name (others are named by their hash)."""


def litellm_team(kwargs: Mapping[str, Any]) -> str | None:
    """The LiteLLM team of a logged call, as its ``team`` tag is read
    (:func:`receipts.client.litellm.call_tags`)."""
    payload: Mapping[str, Any] = kwargs.get("standard_logging_object") or {}
    metadata: Mapping[str, Any] = payload.get("metadata") or {}
    return spend_log_team(metadata, metadata.get("team_id"))


class Route:
    """One agent key's client, its recorder for the async hooks and (made on first use) the
    one for LiteLLM's sync hooks."""

    def __init__(self, receipts: Client, make: MakeRecorder, background: bool) -> None:
        self.receipts = receipts
        self.recorder = make(receipts, background)
        self._make = make
        self._blocking: Recorder | None = None
        self._lock = threading.Lock()

    def sync_recorder(self) -> Recorder:
        """Sync hooks run on LiteLLM's logging threads, with no event loop: an async client's
        blocking twin (same service, key and spool) delivers their receipts."""
        if self.recorder.background is not None or isinstance(self.receipts, ReceiptsClient):
            return self.recorder
        with self._lock:
            if self._blocking is None:
                self._blocking = self._make(blocking_twin(self.receipts), False)
            return self._blocking


class TeamRoutes:
    """The default route and the teams' (a client shared by several teams is one route)."""

    def __init__(self, default: Client | None, keys: Mapping[str, Client] | None,
                 make: MakeRecorder, *, background: bool, on_error: OnError) -> None:
        if keys is not None and not keys:
            raise AgentKeysError("keys= maps no team (leave it out for one agent key)")
        if default is None and not keys:
            raise AgentKeysError("a LiteLLM logger needs a default client or keys=")
        if any(not team for team in keys or {}):
            raise AgentKeysError("keys= maps LiteLLM team names (non-empty) to clients")
        made: dict[int, Route] = {}

        def route(client: Client) -> Route:
            if id(client) not in made:
                made[id(client)] = Route(client, make, background)
            return made[id(client)]

        self.default = route(default) if default is not None else None
        self.teams = {team: route(client) for team, client in (keys or {}).items()}
        self.mapped = keys is not None
        self.on_error = on_error
        self.unsent: Counter[str] = Counter()
        self._lock = threading.Lock()

    def pick(self, team: str | None, facts: CallFacts) -> Route | None:
        """The route of a call of LiteLLM team ``team`` (None: not sent, reported and
        counted); a call sent with the default key for want of its own keeps its team as
        ``litellm_team`` (see the module)."""
        found = self.teams.get(team) if team is not None else None
        if found is not None:
            return found
        if self.default is None:
            with self._lock:
                self.unsent[team or ""] += 1
            self.on_error(UnmappedTeam(
                f"LiteLLM call {facts.request_id} of team {team!r}: no agent key for the team "
                "and no default client: no receipt" if team is not None else
                f"LiteLLM call {facts.request_id} of no team: no default client: no receipt"))
            return None
        if self.mapped and team is not None and facts.tags.get("team") == team:
            facts.tags[UNMAPPED_TEAM_TAG] = facts.tags.pop("team")
        return self.default


def need_default() -> None:
    """With ``$RECEIPTS_AGENT_KEYS``, ``$RECEIPTS_AGENT_KEY`` is still required: the default
    agent takes the calls of teams the map does not name (teams made in the proxy later)."""
    if os.environ.get(KEYS_ENV) and not os.environ.get("RECEIPTS_AGENT_KEY"):
        raise AgentKeysError(f"${KEYS_ENV} needs $RECEIPTS_AGENT_KEY too: the default agent "
                             "key, for the calls of teams the map does not name")


def keys_from_env(default: ReceiptsClient) -> dict[str, Client] | None:
    """The team clients ``$RECEIPTS_AGENT_KEYS`` names (None when it is unset): the default's
    service and pinned public key, each key's own spool beside the default's (a team whose
    key is the default's shares the default client)."""
    named = os.environ.get(KEYS_ENV)
    if not named:
        return None
    keys = read_agent_keys(Path(named).expanduser())
    by_key: dict[str, Client] = {default.headers["Authorization"][7:]: default}
    spool = default.spool.path if default.spool is not None else None
    clients: dict[str, Client] = {}
    for team in sorted(keys):
        client = by_key.get(keys[team])
        if client is None:
            client = ReceiptsClient(default.base_url, keys[team], public_key=default.key,
                                    spool=None if spool is None else team_spool(spool, team))
            by_key[keys[team]] = client
        clients[team] = client
    return clients


def team_spool(spool: Path, team: str) -> Path:
    """The spool of a team's key beside the default one: ``<stem>-<team><suffix>``."""
    name = team if SAFE_NAME.fullmatch(team) else \
        "team-" + hashlib.sha256(team.encode()).hexdigest()[:12]
    return spool.with_name(f"{spool.stem}-{name}{spool.suffix}")


def read_agent_keys(path: Path) -> dict[str, str]:
    """team -> agent key from a map file (see the module); :class:`AgentKeysError` names the
    file and the team of any problem, never a key."""
    fmt = {".toml": "TOML", ".json": "JSON"}.get(path.suffix.lower())
    if fmt is None:
        raise AgentKeysError(f"${KEYS_ENV}: {path} must be a .toml or .json file")
    try:
        text = path.read_bytes().decode("utf-8")
        data = tomllib.loads(text) if fmt == "TOML" else json.loads(text)
    except OSError as e:
        raise AgentKeysError(f"${KEYS_ENV}: cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise AgentKeysError(f"${KEYS_ENV}: {path} is not UTF-8 text") from None
    except (tomllib.TOMLDecodeError, ValueError, RecursionError) as e:
        raise AgentKeysError(f"${KEYS_ENV}: {path} is not valid {fmt}: "
                             f"{str(e).splitlines()[0]}") from None
    if not isinstance(data, dict) or not data:
        raise AgentKeysError(f"${KEYS_ENV}: {path} must map LiteLLM team names to agent keys "
                             f"(team = \"key file or key\"), and maps none")
    keys: dict[str, str] = {}
    for team, value in data.items():
        if not team.strip() or not isinstance(value, str) or not value.strip():
            raise AgentKeysError(f"${KEYS_ENV}: {path}: team {team!r} must map to an agent "
                                 "key file or an agent key (text)")
        if AGENT_KEY.fullmatch(value.strip()):
            _private(path, f"{path} (which holds agent keys)")
            keys[team] = value.strip()
        else:
            keys[team] = _key_file(path.parent / Path(value).expanduser(), team)
    return keys


def _key_file(path: Path, team: str) -> str:
    """The agent key a key file holds (one line)."""
    try:
        text = path.read_text("utf-8").strip()
    except OSError as e:
        raise AgentKeysError(f"${KEYS_ENV}: cannot read the agent key file {path} of team "
                             f"{team!r}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        text = ""
    _private(path, f"the agent key file {path} of team {team!r}")
    if not AGENT_KEY.fullmatch(text):
        raise AgentKeysError(f"${KEYS_ENV}: {path} (team {team!r}) does not hold an agent "
                             "key (one line: rk_...)")
    return text


def _private(path: Path, what: str) -> None:
    """Refuse a file of secrets that others may read (as the signing key is refused)."""
    if readable_by_others(path):
        raise AgentKeysError(f"${KEYS_ENV}: {what} is readable by others; run: "
                             f"chmod 600 {path}")
