"""A real ``receipt serve`` per module, an agent key, and the deployment's public key."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.receipts.conftest import Deployment, Server, make_deployment
from verifier.keys import PublicKey, load_public_key_pem

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
