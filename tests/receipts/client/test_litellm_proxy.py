"""``receipts.client.litellm.ReceiptsLogger`` behind LiteLLM's proxy side: the ``Router``
(retries, fallbacks, the key's team, alias, user and metadata as tags), a team the agent key
is not bound to, an outage and the spool, cache hits, and the ``config.yaml`` handler."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import litellm
import pytest
from litellm.exceptions import RateLimitError
from litellm.router import Router

import receipts.client.litellm as module
from receipts.client import ReceiptsClient, Spool
from receipts.client.litellm import ReceiptsLogger
from tests.receipts.client import recorded
from tests.receipts.client.conftest import Service
from tests.receipts.client.litellm_setup import ASK, CHAT_USAGE, Keeping, Setup, kept

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("loopback_only"),
              # LiteLLM's own warnings about its own types:
              pytest.mark.filterwarnings("ignore:.*ReadOnly. qualifier:UserWarning"),
              pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning"),
              pytest.mark.filterwarnings("ignore:Accessing the 'model_:DeprecationWarning")]


def proxy_metadata(**overrides: Any) -> dict[str, Any]:
    """What the proxy puts in a call's metadata for a virtual key of team ``search``."""
    return {"user_api_key_team_alias": "search", "user_api_key_team_id": "team-1",
            "user_api_key_alias": "search-prod", "user_api_key_user_id": "u-7",
            "user_api_key_end_user_id": "cust-9", "spend_logs_metadata": {"feature": "qa"},
            "tags": ["env:prod"], **overrides}


MODEL_LIST = [
    {"model_name": "smart", "model_info": {"id": "smart-1"},
     "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-test",
                        "mock_response": dict(recorded.CHAT)}},
    {"model_name": "flaky", "model_info": {"id": "flaky-1"},
     "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "sk-test",
                        "mock_response": "litellm.RateLimitError"}},
]


def test_router_calls_map_the_keys_team_alias_user_and_metadata(
        installed: Callable[..., Setup]) -> None:
    s = installed()
    router = Router(model_list=MODEL_LIST)

    async def run() -> None:
        await router.acompletion(model="smart", messages=ASK, metadata=proxy_metadata())
        await s.await_receipts(1)

    asyncio.run(run())
    router.completion(model="smart", messages=ASK,
                      metadata=proxy_metadata(user_api_key_team_alias=None,
                                              user_api_key_team_id="search"))
    first, second = s.wait(2)
    assert first["tags"]["team"] == "search" and first["tags"]["key_alias"] == "search-prod"
    assert first["tags"]["user"] == "u-7" and first["tags"]["end_user"] == "cust-9"
    assert first["tags"]["feature"] == "qa" and first["tags"]["env"] == "prod"
    assert not {"model_group", "deployment", "model_info", "user_api_key_alias",
                "attempted_retries", "api_base"} & set(first["tags"])
    assert second["tags"]["team"] == "search"  # the team id, without an alias
    assert first["usage"] == second["usage"] == CHAT_USAGE
    assert first["provider"] == "openai" and first["model_requested"] == "gpt-4o-2024-08-06"


def test_router_retries_and_fallbacks_are_a_receipt_per_attempt(
        installed: Callable[..., Setup]) -> None:
    s = installed()
    router = Router(model_list=MODEL_LIST, fallbacks=[{"flaky": ["smart"]}])

    async def run() -> None:
        with pytest.raises(RateLimitError):
            await router.acompletion(model="flaky", messages=ASK, metadata=proxy_metadata(),
                                     num_retries=2, fallbacks=[])
        await s.await_receipts(3)
        answer = await router.acompletion(model="flaky", messages=ASK, num_retries=0,
                                          metadata=proxy_metadata())
        assert answer.choices[0].message.content == "Paris."
        await s.await_receipts(5)

    asyncio.run(run())
    found = s.wait(5)
    assert [(r["status"], r["model_requested"]) for r in found] == \
        [("error:429", "openai/gpt-4o-mini")] * 4 + [("ok", "gpt-4o-2024-08-06")]
    assert len({r["request_id"] for r in found}) == 5 and len(s.ledger()) == 5
    assert all(r["tags"]["key_alias"] == "search-prod" for r in found)


def test_a_team_the_agent_key_is_not_bound_to_is_reported_not_raised(
        installed: Callable[..., Setup]) -> None:
    s = installed()
    router = Router(model_list=MODEL_LIST)
    answer = router.completion(model="smart", messages=ASK,
                               metadata=proxy_metadata(user_api_key_team_alias="billing"))
    assert answer.choices[0].message.content == "Paris."
    deadline = time.monotonic() + 20
    while not s.errors and time.monotonic() < deadline:
        time.sleep(0.02)
    [error] = s.errors
    assert "403" in str(error) and s.got == [] and s.ledger() == []


def test_an_outage_spools_the_call_and_a_later_flush_delivers_it(
        service: Service, installed: Callable[..., Setup], tmp_path: Path) -> None:
    spool = tmp_path / "spool.sqlite"
    down = ReceiptsClient("http://127.0.0.1:9", service.key, spool=spool, retries=0)
    s = installed(down)
    answer = litellm.completion(model="gpt-4o", messages=ASK, mock_response=dict(recorded.CHAT))
    s.wait(1, signed=False)
    assert s.got[0].spooled and Spool(spool).count() == 1
    with ReceiptsClient(service.url, service.key, spool=spool) as up:
        delivered = up.flush()
    call_id = answer._hidden_params["litellm_call_id"]
    assert list(delivered) == [f"litellm:{call_id}"]
    [r] = s.ledger()
    assert r["usage"] == CHAT_USAGE


def test_answers_from_litellms_cache_are_not_receipted(installed: Callable[..., Setup]) -> None:
    """(No provider call was made.) The event of a real call, as LiteLLM's response cache
    reports a hit."""
    s = installed(cls=Keeping)
    seen = kept(s)
    litellm.completion(model="gpt-4o", messages=ASK, mock_response=dict(recorded.CHAT))
    s.wait(1)
    kwargs, response, started, ended = seen[0]
    hit = {**kwargs, "litellm_call_id": str(uuid.uuid4()),
           "standard_logging_object": {**kwargs["standard_logging_object"], "cache_hit": True}}
    s.logger.log_success_event(hit, response, started, ended)
    assert len(s.got) == 1 and not s.errors and len(s.ledger()) == 1


def test_the_proxy_config_handler_is_made_from_the_environment(
        service: Service, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from litellm.proxy.types_utils.utils import get_instance_fn

    monkeypatch.setattr(module, "_handler", None)
    monkeypatch.delenv("RECEIPTS_AGENT_KEY", raising=False)
    with pytest.raises(ValueError, match="RECEIPTS_AGENT_KEY"):
        get_instance_fn("receipts.client.litellm.handler")
    monkeypatch.setenv("RECEIPTS_URL", service.url)
    monkeypatch.setenv("RECEIPTS_AGENT_KEY", service.key)
    monkeypatch.setenv("RECEIPTS_SPOOL", str(tmp_path / "spool.sqlite"))
    handler = get_instance_fn("receipts.client.litellm.handler")
    assert isinstance(handler, ReceiptsLogger) and handler is module.handler
    assert isinstance(handler.receipts, ReceiptsClient) and handler.receipts.spool is not None
    assert handler.receipts.base_url == service.url
    handler.receipts.close()
    with pytest.raises(AttributeError):
        _ = module.not_there
