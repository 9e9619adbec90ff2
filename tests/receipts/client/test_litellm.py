"""``receipts.client.litellm.ReceiptsLogger``: the real ``litellm`` package (its mock responses,
or the OpenAI provider on a mock transport), ``litellm.completion``, ``acompletion`` and the
proxy's ``Router``, receipted by a real ``receipt serve``; nothing leaves the machine."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import litellm
import openai
import pytest
from litellm.exceptions import InternalServerError, RateLimitError
from litellm.router import Router

import receipts.client.litellm as module
from receipts.client import AsyncReceiptsClient, ReceiptsClient, Recorded, Spool, tags
from receipts.client.litellm import ReceiptsLogger
from receipts.errors import ReceiptsError
from tests.receipts.client import recorded
from tests.receipts.client.conftest import Service

pytestmark = [pytest.mark.slow,  # LiteLLM's own warnings about its own types:
              pytest.mark.filterwarnings("ignore:.*ReadOnly. qualifier:UserWarning"),
              pytest.mark.filterwarnings("ignore:Pydantic serializer warnings:UserWarning"),
              pytest.mark.filterwarnings("ignore:Accessing the 'model_:DeprecationWarning")]
ASK = [{"role": "user", "content": "Capital of France?"}]
CHAT_USAGE = {"input": 86, "cache_read": 1920, "output": 300}
"""recorded.CHAT's usage as the service normalizes it (the OpenAI wrapper's test says so too)."""


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every connection and name lookup off the loopback is recorded and refused; the test
    fails if LiteLLM tried one (the cost map, a tokenizer, telemetry)."""
    tried: list[Any] = []
    connect, lookup = socket.socket.connect, socket.getaddrinfo

    def local(host: Any) -> bool:
        return str(host) in ("localhost", "::1") or str(host).startswith("127.")

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not local(address[0]):
            tried.append(address)
            raise OSError("no network in tests")
        return connect(self, address)

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not local(host):
            tried.append(host)
            raise socket.gaierror("no network in tests")
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    yield tried
    assert tried == []


class Setup:
    """A ``ReceiptsLogger`` installed as LiteLLM's callback, the receipts it got, and a tag
    that marks this test's receipts in the shared ledger."""

    def __init__(self, service: Service, receipts: Any = None,
                 cls: type[ReceiptsLogger] = ReceiptsLogger, **options: Any) -> None:
        self.service = service
        self.got: list[Recorded] = []
        self.errors: list[ReceiptsError] = []
        self.receipts: Any = receipts or ReceiptsClient(service.url, service.key,
                                                   public_key=service.public_key)
        self.run = uuid.uuid4().hex[:12]
        self.logger = cls(self.receipts, tags={"run": self.run}, on_receipt=self.got.append,
                          on_error=self.errors.append, **options)

    def wait(self, count: int, timeout: float = 20, signed: bool = True,
             ) -> list[dict[str, Any]]:
        """The receipts of ``count`` calls (sync callbacks end on LiteLLM's own threads), then
        a moment more to see that no other receipt comes."""
        deadline = time.monotonic() + timeout
        while len(self.got) + len(self.errors) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        assert not self.errors, self.errors
        assert len(self.got) == count
        found = [g.receipt for g in self.got if g.receipt is not None]
        assert not signed or all(g.signed_payload and g.receipt
                                 and g.signed_payload["id"] == g.receipt["id"] for g in self.got)
        return found

    async def await_receipts(self, count: int, timeout: float = 20) -> None:
        """Within the event loop: LiteLLM's async callbacks are tasks of it."""
        deadline = time.monotonic() + timeout
        while len(self.got) + len(self.errors) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    def ledger(self) -> list[dict[str, Any]]:
        """This test's receipts in the service's ledger."""
        found: list[dict[str, Any]] = self.service.receipts()
        return [r for r in found if r["tags"].get("run") == self.run]


@pytest.fixture
def installed(service: Service) -> Iterator[Callable[..., Setup]]:
    """Install a logger as ``litellm.callbacks``, LiteLLM's only one. (LiteLLM copies the
    list into its success and failure lists, keeping one instance per class: the loggers of
    earlier tests are taken out of every list.)"""
    made: list[Setup] = []
    manager = litellm.logging_callback_manager

    def install(receipts: Any = None, **options: Any) -> Setup:
        for earlier in made:
            manager.remove_callback_from_all_lists(earlier.logger)
        s = Setup(service, receipts, **options)
        litellm.callbacks = [s.logger]
        made.append(s)
        return s

    yield install
    for s in made:
        manager.remove_callback_from_all_lists(s.logger)
        if isinstance(s.receipts, ReceiptsClient):
            s.receipts.close()


def test_completion_gets_one_receipt_with_litellm_usage_ids_and_tags(
        installed: Callable[..., Setup]) -> None:
    s = installed()
    with tags(feature="qa") as outer:
        answer = litellm.completion(
            model="gpt-4o", messages=ASK, mock_response=dict(recorded.CHAT), user="cust-1",
            metadata={"step": "answer", "Not A Tag": "x", "tags": ["env:ci", "plain"],
                      "spend_logs_metadata": {"ticket": 42}})
    assert answer.choices[0].message.content == "Paris."
    [r] = s.wait(1)
    assert r["request_id"] == f"litellm:{answer._hidden_params['litellm_call_id']}"
    assert r["usage"] == CHAT_USAGE and r["status"] == "ok" and r["provider"] == "openai"
    assert r["provider_response_id"] == recorded.CHAT["id"]
    assert r["model_requested"] == "gpt-4o-2024-08-06" and r["pricing_status"] == "priced"
    assert {k: r["tags"][k] for k in ("feature", "step", "env", "ticket", "end_user", "run")} \
        == {"feature": "qa", "step": "answer", "env": "ci", "ticket": "42",
            "end_user": "cust-1", "run": s.run}
    assert r["tags"]["trace_id"] == outer["trace_id"] and r["tags"]["team"] == "search"
    assert not {"plain", "Not A Tag", "hidden_params", "tags"} & set(r["tags"])
    assert isinstance(r["runtime_ms"], int) and "started_at" in r
    assert len(s.ledger()) == 1


def test_the_same_call_id_twice_is_never_a_second_charge(installed: Callable[..., Setup],
                                                         service: Service) -> None:
    seen: list[tuple[Any, ...]] = []

    class Keeping(ReceiptsLogger):
        def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any,
                              end_time: Any) -> None:
            seen.append((kwargs, response_obj, start_time, end_time))
            super().log_success_event(kwargs, response_obj, start_time, end_time)

    s = installed(cls=Keeping)
    call_id = str(uuid.uuid4())
    litellm.completion(model="gpt-4o", messages=ASK, mock_response=dict(recorded.CHAT),
                       litellm_call_id=call_id)
    [first] = s.wait(1)
    s.logger.log_success_event(*seen[0])  # the same event again: not sent twice
    assert len(s.got) == 1 and not s.errors
    other = ReceiptsLogger(s.receipts, on_receipt=s.got.append, on_error=s.errors.append,
                           tags={"run": s.run})
    other.log_success_event(*seen[0])  # another process with the same event: a replay
    assert len(s.got) == 2 and s.got[1].replay and s.got[1].receipt == first
    # another call under the same id (a caller reusing it) is refused, not charged
    litellm.completion(model="gpt-4o", messages=ASK, mock_response="Lyon.",
                       litellm_call_id=call_id)
    deadline = time.monotonic() + 20
    while not s.errors and time.monotonic() < deadline:
        time.sleep(0.02)
    [refused] = s.errors
    assert "409" in str(refused)
    [only] = s.ledger()
    assert only["request_id"] == f"litellm:{call_id}" and only["usage"] == CHAT_USAGE


def test_embeddings_responses_text_completions_and_anthropic_messages_are_receipted(
        installed: Callable[..., Setup]) -> None:
    s = installed()
    litellm.embedding(model="text-embedding-3-small", input=["hi"], mock_response=[0.1, 0.2])
    s.wait(1)
    litellm.responses(model="openai/o3", input="6 x 7?", mock_response="42")
    s.wait(2)
    litellm.text_completion(model="gpt-3.5-turbo-instruct", prompt="hi", mock_response="x")
    s.wait(3)

    async def message() -> None:  # the Anthropic messages route (LiteLLM's usage, OpenAI's shape)
        await litellm.anthropic.messages.acreate(
            model="anthropic/claude-sonnet-4-5", max_tokens=10, messages=ASK,
            mock_response="Paris.", api_key="sk-ant-test")
        await s.await_receipts(4)

    asyncio.run(message())
    embedding, responses, text, anthropic = s.wait(4)
    assert anthropic["provider"] == "anthropic" and anthropic["usage"] == {
        "input": 2095, "output": 503}
    assert embedding["usage"] == {"input": 10} and embedding["provider"] == "openai"
    assert responses["usage"]["output"] > 0 and responses["status"] == "ok"
    assert text["usage"] == {"input": 10, "output": 20}
    assert len({r["request_id"] for r in (embedding, responses, text)}) == 3


def test_a_failed_completion_is_receipted_with_its_status(
        installed: Callable[..., Setup]) -> None:
    s = installed()
    with pytest.raises(RateLimitError):
        litellm.completion(model="gpt-4o", messages=ASK, mock_response=RateLimitError(
            "slow down", llm_provider="openai", model="gpt-4o"))
    [r] = s.wait(1)
    assert r["status"] == "error:429" and sum(r["usage"].values()) == 0
    assert r["model_requested"] == "gpt-4o" and r["request_id"].startswith("litellm:")


def test_acompletion_with_an_async_client_success_failure_and_stream(
        service: Service, installed: Callable[..., Setup]) -> None:
    async def run() -> Setup:
        s = installed(AsyncReceiptsClient(service.url, service.key,
                                          public_key=service.public_key))
        with tags(feature="async"):
            await litellm.acompletion(model="gpt-4o", messages=ASK,
                                      mock_response=dict(recorded.CHAT))
            with pytest.raises(InternalServerError):
                await litellm.acompletion(
                    model="gpt-4o", messages=ASK, mock_response=InternalServerError(
                        "down", llm_provider="openai", model="gpt-4o"))
            stream = await litellm.acompletion(model="gpt-4o", messages=ASK, stream=True,
                                               mock_response="Paris is in France.")
            text = "".join([c.choices[0].delta.content or "" async for c in stream])
            assert text == "Paris is in France."
            await s.await_receipts(3)
        await s.receipts.aclose()
        return s

    s = asyncio.run(run())
    found = s.wait(3)  # (in the order LiteLLM's tasks delivered them)
    [ok] = [r for r in found if r.get("provider_response_id") == recorded.CHAT["id"]]
    [failed] = [r for r in found if r["status"] != "ok"]
    [streamed] = [r for r in found if r is not ok and r is not failed]
    assert ok["usage"] == CHAT_USAGE and failed["status"] == "error:500"
    assert streamed["status"] == "ok" and streamed["usage"]["output"] > 0
    assert all(r["tags"]["feature"] == "async" for r in (ok, failed, streamed))
    assert len({r["request_id"] for r in (ok, failed, streamed)}) == 3


def test_sync_calls_with_an_async_client_and_background_delivery(
        service: Service, installed: Callable[..., Setup]) -> None:
    """LiteLLM's sync hooks have no event loop: an async client's blocking twin delivers; with
    ``background=True`` the logger's own thread does."""
    areceipts = AsyncReceiptsClient(service.url, service.key, public_key=service.public_key)
    s = installed(areceipts)
    litellm.completion(model="gpt-4o", messages=ASK, mock_response=dict(recorded.CHAT))
    [r] = s.wait(1)
    assert r["usage"] == CHAT_USAGE
    behind = installed(background=True)
    for n in range(3):
        with tags(step=str(n)):
            litellm.completion(model="gpt-4o", messages=ASK, mock_response=dict(recorded.CHAT))
    found = behind.wait(3)
    assert sorted(r["tags"]["step"] for r in found) == ["0", "1", "2"]
    assert behind.logger.recorder.background is not None
    asyncio.run(areceipts.aclose())


def test_a_stream_is_receipted_with_the_providers_own_usage(
        installed: Callable[..., Setup]) -> None:
    """The OpenAI provider of LiteLLM on a mock transport: the usage is the last chunk's. (LiteLLM
    ends a sync stream on a thread of its own: the caller's tags still apply.)"""
    s = installed()
    llm = recorded.MockLLM(recorded.openai_answer)
    client = openai.OpenAI(api_key="sk-test", http_client=llm.sync(), max_retries=0)
    with tags(feature="stream"):
        stream = litellm.completion(model="openai/gpt-4o", messages=ASK, client=client,
                                    api_key="sk-test", stream=True,
                                    stream_options={"include_usage": True})
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Paris."
    [r] = s.wait(1)
    assert r["tags"]["feature"] == "stream"
    assert llm.requests[0][1]["stream_options"] == {"include_usage": True}
    assert r["usage"] == {"input": 176, "cache_read": 1024, "output": 3}
    assert r["provider_response_id"] == "chatcmpl-C1stream0000000000000000000"


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
    seen: list[tuple[Any, ...]] = []

    class Keeping(ReceiptsLogger):
        def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any,
                              end_time: Any) -> None:
            seen.append((kwargs, response_obj, start_time, end_time))
            super().log_success_event(kwargs, response_obj, start_time, end_time)

    s = installed(cls=Keeping)
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
