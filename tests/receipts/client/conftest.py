"""A real ``receipt serve`` per module, an agent key, and the deployment's public key."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.receipts.conftest import Deployment, Server, make_deployment
from verifier.keys import PublicKey, load_public_key_pem

if TYPE_CHECKING:
    from tests.receipts.client.litellm_setup import Setup

# LiteLLM fetches its model price map from the network when imported, unless told not to
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@dataclass
class Service:
    """The running service, its deployment, one agent key and the signing public key."""

    dep: Deployment
    server: Server
    key: str
    public_key: PublicKey

    @property
    def url(self) -> str:
        """Base URL."""
        return self.server.url

    def receipts(self) -> list[dict[str, object]]:
        """Every receipt in the ledger (admin view)."""
        import httpx

        out: list[dict[str, object]] = []
        cursor = None
        while True:
            params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
            page = httpx.get(self.url + "/v1/receipts", params=params,
                             headers=self.dep.admin, timeout=10).json()
            out += [item["receipt"] for item in page["receipts"]]
            cursor = page.get("next_cursor")
            if not cursor:
                return out


def start_service(tmp: Path) -> Service:
    """``receipt init``, an agent (team search, project ranker bound), ``receipt serve``."""
    dep = make_deployment(tmp)
    _, header = dep.agent("search", project="ranker", environment="test")
    server = Server(dep)
    server.wait_ready()
    public = load_public_key_pem(dep.settings.data_dir / "signing-key.pub.pem")
    return Service(dep, server, header["Authorization"][7:], public)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One service for the module's tests."""
    svc = start_service(tmp_path_factory.mktemp("svc"))
    try:
        yield svc
    finally:
        svc.server.stop()


@pytest.fixture
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


@pytest.fixture
def installed(service: Service) -> Iterator[Callable[..., Setup]]:
    """Install a logger as ``litellm.callbacks``, LiteLLM's only one. (LiteLLM copies the
    list into its success and failure lists, keeping one instance per class: the loggers of
    earlier tests are taken out of every list.)"""
    import litellm

    from receipts.client import ReceiptsClient
    from tests.receipts.client.litellm_setup import Setup

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
