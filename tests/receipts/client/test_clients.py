"""The client against a real ``receipt serve``: receipts, retries, the spool, signatures."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from receipts.client import AsyncReceiptsClient, ReceiptsClient, Spool, tags
from receipts.errors import ReceiptNotAuthentic, ReceiptRefused, ServiceUnreachable
from tests.receipts.client.conftest import Service
from tests.receipts.conftest import free_port
from verifier.keys import PublicKey

pytestmark = pytest.mark.slow
USAGE = {"prompt_tokens": 1200, "completion_tokens": 300,
         "prompt_tokens_details": {"cached_tokens": 1000}}


def _record(client: ReceiptsClient, request_id: str | None = None) -> object:
    return client.record(provider="openai", model="gpt-4o", usage=USAGE, usage_format="openai",
                         request_id=request_id, runtime_ms=12)


def test_record_returns_a_receipt_verified_against_the_pinned_key(service: Service) -> None:
    with ReceiptsClient(service.url, service.key, public_key=service.public_key) as client:
        got = client.record(provider="openai", model="gpt-4o", usage=USAGE,
                            usage_format="openai", tags={"feature": "search"})
    assert got.receipt is not None and got.cose is not None and not got.spooled
    assert got.signed_payload is not None and got.signed_payload["id"] == got.receipt["id"]
    assert got.receipt["tags"]["feature"] == "search"
    assert sum(got.receipt["usage"].values()) == 1500  # disjoint categories


def test_a_receipt_signed_by_another_key_is_refused(service: Service) -> None:
    other = PublicKey(bytes.fromhex(
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))
    with ReceiptsClient(service.url, service.key, public_key=other) as client, \
            pytest.raises(ReceiptNotAuthentic, match="pinned key"):
        _record(client)


def test_same_request_id_is_one_receipt(service: Service) -> None:
    with ReceiptsClient(service.url, service.key, keep_cose=False) as client:
        first = client.record(provider="openai", model="gpt-4o", usage=USAGE,
                              usage_format="openai", request_id="same-1")
        again = client.record(provider="openai", model="gpt-4o", usage=USAGE,
                              usage_format="openai", request_id="same-1")
    assert first.receipt and again.receipt and first.receipt["id"] == again.receipt["id"]
    assert again.replay and not first.replay and first.cose is None


def test_a_bad_call_is_refused_with_the_services_message(service: Service) -> None:
    with ReceiptsClient(service.url, service.key) as client, \
            pytest.raises(ReceiptRefused, match="422"):
        client.record(provider="openai", model="gpt-4o", usage={"prompt_tokens": -1},
                      usage_format="openai")


def test_retries_keep_the_request_id_and_charge_once(service: Service) -> None:
    """The first answer is lost (a 503 from a proxy in front): the retry with the same id is
    answered, and the ledger holds the call once."""
    real = httpx.HTTPTransport()
    seen: list[bytes] = []

    class Flaky(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.content)
            answer = real.handle_request(request)
            if len(seen) == 1:  # stored by the service, but the agent never hears it
                answer.read()
                return httpx.Response(503)
            return answer

    with ReceiptsClient(service.url, service.key, transport=Flaky(), backoff=0) as client:
        got = _record(client, "flaky-1")
    assert len(seen) == 2 and seen[0] == seen[1]
    assert got.replay and got.receipt is not None
    ids = [r for r in service.receipts() if r.get("request_id") == "flaky-1"]
    assert len(ids) == 1


def test_unreachable_without_spool_raises(tmp_path: Path) -> None:
    with ReceiptsClient(f"http://127.0.0.1:{free_port()}", "k", retries=1, backoff=0) as c, \
            pytest.raises(ServiceUnreachable):
        _record(c)


def test_spool_keeps_calls_while_down_and_delivers_them_in_order(service: Service,
                                                                 tmp_path: Path) -> None:
    spool_path = tmp_path / "spool.sqlite"
    down = ReceiptsClient(f"http://127.0.0.1:{free_port()}", service.key, spool=spool_path,
                          retries=1, backoff=0)
    ids = [f"order-{i}" for i in range(5)]
    for rid in ids:
        assert _record(down, rid).spooled  # type: ignore[attr-defined]
    down.http.close()
    assert Spool(spool_path).count() == 5
    up = ReceiptsClient(service.url, service.key, spool=spool_path,
                        public_key=service.public_key)
    after = _record(up, "order-5")  # queued behind the five, delivered with them
    assert after.receipt is not None  # type: ignore[attr-defined]
    up.close()
    assert Spool(spool_path).count() == 0
    mine = [r for r in service.receipts() if str(r.get("request_id", "")).startswith("order-")]
    mine.sort(key=lambda r: (r["issued_at"], r["seq"]))
    assert [r["request_id"] for r in mine] == [*ids, "order-5"]


def test_spooled_call_refused_later_is_set_aside(service: Service, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.sqlite")
    spool.add({"request_id": "bad-1", "provider": "openai", "model": "gpt-4o",
               "usage": {"prompt_tokens": -5}, "usage_format": "openai", "tags": {}})
    with ReceiptsClient(service.url, service.key, spool=spool) as client:
        assert client.flush() == {}
    assert spool.count() == 0
    [(rid, status, _answer)] = spool.refused_items()
    assert (rid, status) == ("bad-1", 422)


def test_context_tags_nest_and_carry_trace_and_parent(service: Service) -> None:
    with ReceiptsClient(service.url, service.key) as client, tags(feature="outer") as outer:
        a = _record(client)
        with tags(feature="inner", step="2") as inner:
            b = _record(client)
    ta, tb = a.receipt["tags"], b.receipt["tags"]  # type: ignore[attr-defined]
    assert ta["feature"] == "outer" and tb["feature"] == "inner" and tb["step"] == "2"
    assert ta["trace_id"] == tb["trace_id"] == outer["trace_id"]
    assert tb["parent_id"] == outer["span_id"] and tb["span_id"] == inner["span_id"]


def test_async_client_records_and_spools(service: Service, tmp_path: Path) -> None:
    async def run() -> None:
        async with AsyncReceiptsClient(service.url, service.key,
                                       public_key=service.public_key) as client:
            with tags(feature="async"):
                got = await asyncio.gather(*(client.record(
                    provider="anthropic", model="claude-sonnet-4",
                    usage={"input_tokens": 10, "output_tokens": 5},
                    usage_format="anthropic") for _ in range(5)))
            assert all(g.receipt and g.receipt["tags"]["feature"] == "async" for g in got)
        down = AsyncReceiptsClient(f"http://127.0.0.1:{free_port()}", service.key,
                                   spool=tmp_path / "a.sqlite", retries=0)
        spooled = await down.record(provider="openai", model="gpt-4o", usage=USAGE,
                                    usage_format="openai", request_id="async-spooled")
        assert spooled.spooled
        await down.http.aclose()
        up = AsyncReceiptsClient(service.url, service.key, spool=tmp_path / "a.sqlite")
        delivered = await up.flush()
        await up.aclose()
        assert delivered["async-spooled"].receipt is not None

    asyncio.run(run())
