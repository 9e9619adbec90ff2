"""What the app does once at start-up for the request path: pricing loaded, start-up heap
exempt from garbage collection while serving, released at shutdown."""

from __future__ import annotations

import gc

from tests.receipts.conftest import Deployment, call


def test_startup_loads_pricing_and_freezes_the_heap_until_shutdown(
        deployment: Deployment) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        ctx = client.app.state.ctx  # type: ignore[attr-defined]
        assert ctx.runtime.service.pricing.books, "price books loaded before the first call"
        assert gc.get_freeze_count() > 1000
        assert client.post("/v1/receipts", json=call("a"), headers=auth).status_code == 201
    assert gc.get_freeze_count() == 0
