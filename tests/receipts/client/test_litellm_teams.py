"""A LiteLLM logger serving several teams (:mod:`receipts.client.litellm_keys`): each team's
calls under its own agent key, the rule for a team without one, one spool per key, and the
proxy handler's ``$RECEIPTS_AGENT_KEYS`` map with its start-up errors."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litellm.router import Router

import receipts.client.litellm as module
from receipts.client import AsyncReceiptsClient, ReceiptsClient, Spool
from receipts.client.litellm import ReceiptsLogger
from receipts.client.litellm_keys import TeamRoutes, read_agent_keys, team_spool
from receipts.errors import AgentKeysError, UnmappedTeam
from tests.receipts.client.conftest import Service
from tests.receipts.client.litellm_setup import ASK, CHAT_USAGE, Setup
from tests.receipts.client.test_litellm_proxy import MODEL_LIST, proxy_metadata

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("loopback_only"),
              # LiteLLM's own warnings about its own types:
              pytest.mark.filterwarnings("ignore:.*ReadOnly. qualifier:UserWarning"),
              pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning"),
              pytest.mark.filterwarnings("ignore:Accessing the 'model_:DeprecationWarning")]


class Billing:
    """A second agent, of team ``billing``: its id and key."""

    def __init__(self, service: Service) -> None:
        self.id, header = service.dep.agent("billing", project="ranker", environment="test")
        self.key = header["Authorization"][7:]


@pytest.fixture(scope="module")
def billing(service: Service) -> Billing:
    """The billing team's agent, made once for the module's service."""
    return Billing(service)


@pytest.fixture
def clients(service: Service) -> Iterator[Callable[..., ReceiptsClient]]:
    """Blocking clients for the service, closed after the test."""
    made: list[ReceiptsClient] = []

    def make(key: str, **options: Any) -> ReceiptsClient:
        options.setdefault("public_key", service.public_key)
        made.append(ReceiptsClient(options.pop("url", service.url), key, **options))
        return made[-1]

    yield make
    for client in made:
        client.close()


def billing_call(**overrides: Any) -> dict[str, Any]:
    """What the proxy puts in a call's metadata for a virtual key of team ``billing``."""
    return proxy_metadata(**{"user_api_key_team_alias": "billing",
                             "user_api_key_team_id": "team-2",
                             "user_api_key_alias": "billing-prod", **overrides})


def wait_errors(s: Setup, count: int, timeout: float = 20) -> None:
    """Until ``count`` receipts problems were reported (sync hooks end on LiteLLM's threads)."""
    deadline = time.monotonic() + timeout
    while len(s.errors) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)


def test_two_teams_through_one_logger_are_receipts_of_two_agents(
        installed: Callable[..., Setup], billing: Billing, service: Service,
        clients: Callable[..., ReceiptsClient]) -> None:
    default = clients(service.key)  # (the default agent's own team mapped to it too)
    s = installed(default, keys={"billing": clients(billing.key), "search": default})
    router = Router(model_list=MODEL_LIST)
    router.completion(model="smart", messages=ASK, metadata=proxy_metadata())
    router.completion(model="smart", messages=ASK, metadata=billing_call())
    # the team id, when the team has no alias
    router.completion(model="smart", messages=ASK,
                      metadata=billing_call(user_api_key_team_alias=None,
                                            user_api_key_team_id="billing"))
    found = s.wait(3)
    [search] = [r for r in found if r["tags"]["team"] == "search"]
    billed = [r for r in found if r is not search]
    assert search["tags"]["team"] == "search" and search["agent"] != billing.id
    assert [(r["agent"], r["tags"]["team"], r["tags"]["key_alias"]) for r in billed] == \
        [(billing.id, "billing", "billing-prod")] * 2
    assert all(r["usage"] == CHAT_USAGE and "litellm_team" not in r["tags"]
               for r in (search, *billed))
    assert len(s.ledger()) == 3 and not s.logger.unsent


def test_the_async_hooks_use_each_teams_async_client(
        installed: Callable[..., Setup], billing: Billing, service: Service) -> None:
    async def run() -> Setup:
        default = AsyncReceiptsClient(service.url, service.key, public_key=service.public_key)
        team = AsyncReceiptsClient(service.url, billing.key, public_key=service.public_key)
        s = installed(default, keys={"billing": team, "search": default})
        router = Router(model_list=MODEL_LIST)
        await router.acompletion(model="smart", messages=ASK, metadata=billing_call())
        await router.acompletion(model="smart", messages=ASK, metadata=proxy_metadata())
        await s.await_receipts(2)
        await team.aclose()
        await default.aclose()
        return s

    s = asyncio.run(run())
    found = s.wait(2)
    assert sorted((r["tags"]["team"], r["agent"] == billing.id) for r in found) == \
        [("billing", True), ("search", False)]
    assert len(s.logger.routes.teams) == 2 and s.logger.routes.teams["search"] \
        is s.logger.routes.default  # one route per client


def test_a_team_without_a_key_goes_with_the_default_key_its_team_kept(
        installed: Callable[..., Setup], billing: Billing,
        clients: Callable[..., ReceiptsClient]) -> None:
    """The default agent (team search) takes the calls of teams the map does not name, and
    of keys with no team; the LiteLLM team is kept as ``litellm_team``."""
    s = installed(keys={"billing": clients(billing.key)})
    router = Router(model_list=MODEL_LIST)
    router.completion(model="smart", messages=ASK,
                      metadata=proxy_metadata(user_api_key_team_alias="ops"))
    router.completion(model="smart", messages=ASK,
                      metadata=proxy_metadata(user_api_key_team_alias=None,
                                              user_api_key_team_id=None))
    found = s.wait(2)  # (in the order LiteLLM's logging threads delivered them)
    [ops] = [r for r in found if "litellm_team" in r["tags"]]
    [teamless] = [r for r in found if r is not ops]
    assert ops["tags"]["team"] == "search" and ops["tags"]["litellm_team"] == "ops"
    assert ops["agent"] == teamless["agent"] != billing.id
    assert teamless["tags"]["team"] == "search" and "litellm_team" not in teamless["tags"]


def test_without_a_default_a_team_without_a_key_is_reported_and_counted(
        installed: Callable[..., Setup], billing: Billing,
        clients: Callable[..., ReceiptsClient]) -> None:
    s = installed(default=False, keys={"billing": clients(billing.key)})
    assert s.logger.receipts is None and s.logger.recorder is None
    router = Router(model_list=MODEL_LIST)
    answer = router.completion(model="smart", messages=ASK, metadata=proxy_metadata())
    assert answer.choices[0].message.content == "Paris."  # the call itself is untouched
    router.completion(model="smart", messages=ASK,
                      metadata=proxy_metadata(user_api_key_team_alias=None,
                                              user_api_key_team_id=None))
    router.completion(model="smart", messages=ASK, metadata=billing_call())
    wait_errors(s, 2)
    assert all(isinstance(e, UnmappedTeam) for e in s.errors) and len(s.errors) == 2
    assert "'search'" in str(s.errors[0]) and "no default client" in str(s.errors[1])
    assert s.logger.unsent == {"search": 1, "": 1}
    deadline = time.monotonic() + 20
    while not s.got and time.monotonic() < deadline:
        time.sleep(0.02)
    [got] = s.got
    [r] = s.ledger()
    assert got.receipt == r and r["agent"] == billing.id and len(s.errors) == 2


def test_a_team_named_by_the_caller_does_not_choose_the_key(
        installed: Callable[..., Setup], billing: Billing,
        clients: Callable[..., ReceiptsClient]) -> None:
    """The key is chosen by the virtual key's team, never by the tags a client sends: a
    search call tagged ``team: billing`` goes with search's key, which refuses it (403)."""
    s = installed(keys={"billing": clients(billing.key)})
    router = Router(model_list=MODEL_LIST)
    router.completion(model="smart", messages=ASK,
                      metadata=proxy_metadata(spend_logs_metadata={"team": "billing"}))
    wait_errors(s, 1)
    [error] = s.errors
    assert "403" in str(error) and s.got == [] and s.ledger() == []


def test_each_key_spools_apart_and_a_teams_spool_is_delivered_with_its_key(
        installed: Callable[..., Setup], billing: Billing, service: Service,
        clients: Callable[..., ReceiptsClient], tmp_path: Path) -> None:
    down = "http://127.0.0.1:9"
    spool = tmp_path / "spool.sqlite"
    team_file = team_spool(spool, "billing")
    s = installed(clients(service.key, url=down, spool=spool, retries=0),
                  keys={"billing": clients(billing.key, url=down, spool=team_file,
                                           retries=0)})
    router = Router(model_list=MODEL_LIST)
    router.completion(model="smart", messages=ASK, metadata=billing_call())
    s.wait(1, signed=False)
    assert s.got[0].spooled and Spool(team_file).count() == 1 and Spool(spool).count() == 0
    with ReceiptsClient(service.url, billing.key, spool=team_file) as up:
        assert len(up.flush()) == 1
    [r] = s.ledger()
    assert r["agent"] == billing.id and r["tags"]["team"] == "billing"


def test_a_logger_needs_a_default_or_a_key_map(service: Service) -> None:
    with pytest.raises(AgentKeysError, match="maps no team"):
        ReceiptsLogger(keys={})
    with pytest.raises(AgentKeysError, match="maps no team"):
        ReceiptsLogger(ReceiptsClient(service.url, service.key), keys={})
    with pytest.raises(AgentKeysError, match="a default client or keys="):
        TeamRoutes(None, None, lambda *_: pytest.fail("no recorder"), background=False,
                   on_error=lambda _: None)


def write_key(path: Path, key: str, mode: int = 0o600) -> Path:
    """An agent key file."""
    path.write_text(key + "\n")
    path.chmod(mode)
    return path


@pytest.fixture
def proxy_env(service: Service, monkeypatch: pytest.MonkeyPatch,
              tmp_path: Path) -> Iterator[Path]:
    """The proxy's environment (a default agent key, a spool); the handler made anew."""
    monkeypatch.setattr(module, "_handler", None)
    monkeypatch.setenv("RECEIPTS_URL", service.url)
    monkeypatch.setenv("RECEIPTS_AGENT_KEY", service.key)
    monkeypatch.setenv("RECEIPTS_SPOOL", str(tmp_path / "spool" / "receipts-spool.sqlite"))
    monkeypatch.delenv("RECEIPTS_PUBLIC_KEY", raising=False)
    yield tmp_path
    made = module._handler
    if made is not None:
        for route in {id(r): r for r in [*made.routes.teams.values(), made.routes.default]
                      if r is not None}.values():
            assert isinstance(route.receipts, ReceiptsClient)
            route.receipts.close()
        from litellm import logging_callback_manager

        logging_callback_manager.remove_callback_from_all_lists(made)


def test_the_proxy_handler_builds_the_key_map_from_the_environment(
        proxy_env: Path, billing: Billing, service: Service,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import litellm
    from litellm.proxy.types_utils.utils import get_instance_fn

    keys = proxy_env / "keys"
    keys.mkdir()
    write_key(keys / "billing.key", billing.key)
    search = proxy_env / "search.key"
    write_key(search, service.key)  # the default's own key: the default client, shared
    (keys / "agent-keys.toml").write_text(
        f'# LiteLLM team = agent key file\nbilling = "billing.key"\nsearch = "{search}"\n')
    monkeypatch.setenv("RECEIPTS_AGENT_KEYS", str(keys / "agent-keys.toml"))
    handler = get_instance_fn("receipts.client.litellm.handler")
    assert isinstance(handler, ReceiptsLogger) and handler is module.handler
    teams = handler.routes.teams
    assert sorted(teams) == ["billing", "search"] and teams["search"] is handler.routes.default
    team_client = teams["billing"].receipts
    assert isinstance(team_client, ReceiptsClient) and team_client.spool is not None
    assert team_client.spool.path == proxy_env / "spool" / "receipts-spool-billing.sqlite"
    assert team_client.base_url == service.url
    assert handler.receipts is not None and handler.receipts.spool is not None
    assert handler.receipts.spool.path.name == "receipts-spool.sqlite"

    got: list[Any] = []
    handler.routes.teams["billing"].recorder.on_receipt = got.append
    assert handler.routes.default is not None
    handler.routes.default.recorder.on_receipt = got.append
    litellm.callbacks = [handler]
    router = Router(model_list=MODEL_LIST)
    router.completion(model="smart", messages=ASK, metadata=billing_call())
    router.completion(model="smart", messages=ASK, metadata=proxy_metadata())
    router.completion(model="smart", messages=ASK,
                      metadata=proxy_metadata(user_api_key_team_alias="ops team"))
    deadline = time.monotonic() + 20
    while len(got) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    by_key = {(g.receipt["tags"].get("key_alias"), g.receipt["tags"].get("litellm_team")):
              g.receipt for g in got}
    billed, searched = by_key["billing-prod", None], by_key["search-prod", None]
    ops = by_key["search-prod", "ops team"]
    assert billed["agent"] == billing.id and billed["tags"]["team"] == "billing"
    assert searched["tags"]["team"] == "search" and "litellm_team" not in searched["tags"]
    assert ops["tags"]["team"] == "search" and ops["tags"]["litellm_team"] == "ops team"
    assert searched["agent"] == ops["agent"] != billing.id
    # a team name that is not a file name: its spool is named by its hash
    odd = team_spool(Path("/s/receipts-spool.sqlite"), "ops team/../x")
    assert odd.parent == Path("/s") and odd.name.startswith("receipts-spool-team-")


def test_a_key_map_may_hold_the_keys_themselves_in_a_private_file(
        tmp_path: Path, billing: Billing) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"billing": billing.key}))
    path.chmod(0o600)
    assert read_agent_keys(path) == {"billing": billing.key}


SECRET = "rk_" + "S" * 43


@pytest.mark.parametrize(("name", "text", "mode", "message"), [
    ("keys.yaml", 'billing = "k.key"', 0o600, "must be a .toml or .json file"),
    ("keys.toml", "billing = ", 0o600, "is not valid TOML"),
    ("keys.json", "{billing: 1}", 0o600, "is not valid JSON"),
    ("keys.json", "[]", 0o600, "maps none"),
    ("keys.toml", "", 0o600, "maps none"),
    ("keys.toml", "billing = 7", 0o600, "team 'billing' must map to an agent key file"),
    ("keys.toml", "[billing]\nkey = 'x'", 0o600, "team 'billing' must map"),
    ("keys.toml", 'billing = "absent.key"', 0o600, "cannot read the agent key file"),
    ("keys.toml", 'billing = "open.key"', 0o600, "is readable by others; run: chmod 600"),
    ("keys.toml", 'billing = "pem.key"', 0o600, "does not hold an agent key"),
    ("keys.toml", f'billing = "{SECRET}"', 0o644, "holds agent keys) is readable by others"),
])
def test_a_bad_key_map_is_a_clear_error_that_shows_no_key(
        tmp_path: Path, name: str, text: str, mode: int, message: str) -> None:
    write_key(tmp_path / "open.key", SECRET, 0o644)
    write_key(tmp_path / "pem.key", "-----BEGIN PRIVATE KEY-----\n" + SECRET)
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    with pytest.raises(AgentKeysError, match="RECEIPTS_AGENT_KEYS") as raised:
        read_agent_keys(path)
    assert message in str(raised.value) and SECRET not in str(raised.value)


def test_the_proxy_stops_at_start_on_a_bad_or_missing_map(
        proxy_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from litellm.proxy.types_utils.utils import get_instance_fn

    monkeypatch.setenv("RECEIPTS_AGENT_KEYS", str(proxy_env / "absent.toml"))
    with pytest.raises(AgentKeysError, match=r"cannot read .*absent\.toml"):
        get_instance_fn("receipts.client.litellm.handler")
    (proxy_env / "keys.toml").write_text('billing = "billing.key"')
    monkeypatch.setenv("RECEIPTS_AGENT_KEYS", str(proxy_env / "keys.toml"))
    monkeypatch.delenv("RECEIPTS_AGENT_KEY")
    with pytest.raises(ValueError, match=r"needs \$RECEIPTS_AGENT_KEY"):  # (as before)
        get_instance_fn("receipts.client.litellm.handler")
    assert module._handler is None
