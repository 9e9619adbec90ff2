"""A ledger exported by the service matches spec/receipt.cddl in a stock CDDL tool (pycddl).

The vectors are built by one script; this is the service's own output, with every kind of
item and every receipt shape and optional field the API can produce: priced with and without
an FX rate, unknown and unmetered models, provider usage formats, a service tier, a start time,
reasoning tokens, a retry, non-ASCII and empty tag values, a batch, an allocation set with every
rule kind.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import cbor2

from tests.receipts.conftest import call, make_deployment
from tests.spec.cddl import KINDS, RECEIPT_SHAPES, items, kinds, ledger_problems, problem
from verifier.keys import PublicKey
from verifier.verify import VerifyOptions, audit_ledger

ALLOCATIONS = {"name": "FY26", "effective_from": "2026-01", "by": "team", "rules": [
    {"kind": "fixed", "name": "Seats", "category": "seat_licences", "unit_price": "30.00",
     "quantities": {"search": 12, "ads": 0}},
    {"kind": "split", "name": "Bot", "category": "shared_agent", "match": {"agent": "ag_1"},
     "ratios": {"search": 3, "ads": 1}, "rounding": "0.001"},
    {"kind": "distribute", "name": "Discount", "category": "discount", "amount": "-5.00",
     "scope": {"provider": "openai"}},
    {"kind": "distribute", "name": "Tools", "category": "tools", "amount": "9.00",
     "key": {"search": 2, "ads": 0}}]}
"""Every rule kind, a credit, a scope and a stated key, as ``POST /v1/allocations`` takes them."""


def test_every_item_of_an_exported_ledger_matches_the_cddl(tmp_path: Path) -> None:
    dep = make_deployment(tmp_path, currency="GBP")  # USD books, GBP reports: real FX items
    _, auth = dep.agent(cost_center="cc-1")
    with dep.client() as client:
        first = client.post("/v1/receipts", json=call("before-fx"), headers=auth)  # fx null
        assert first.status_code == 201
        today = dt.datetime.now(dt.UTC).date().isoformat()
        assert client.put(f"/v1/fx/{today}", json={"rate": "0.79", "source": "ecb"},
                          headers=dep.admin).status_code == 201
        bodies = [
            call("retry", retry_of=first.json()["receipt"]["id"], status="error"),
            call("unknown", model="mystery-model"),
            call("unmetered", provider="self-hosted", model="llama-3.1-70b"),
            call("tier", service_tier="flex", started_at="2026-03-02T10:00:00.123+01:00",
                 usage={"input_tokens": 500, "output_tokens": 300, "reasoning_tokens": 120},
                 tags={"project": "ranker", "environment": "prod", "note": "café ☕",
                       "empty": ""}),
            call("anthropic", provider="anthropic", model="claude-sonnet-4-0",
                 usage_format="anthropic",
                 usage={"input_tokens": 100, "output_tokens": 300,
                        "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 500}),
        ]
        for body in bodies:
            assert client.post("/v1/receipts", json=body, headers=auth).status_code == 201
        batch = client.post("/v1/receipts/batch", headers=auth, json={
            "calls": [call(f"b{i}", runtime_ms=None) for i in range(3)]})
        assert batch.status_code in (200, 201), batch.text
        made = client.post("/v1/allocations", headers=dep.admin, json=ALLOCATIONS)
        assert made.status_code == 201, made.text
        ledger = client.get("/v1/ledger", headers=dep.admin).content
    key = PublicKey(dep.made.signer.public_key)
    report = audit_ledger([ledger], VerifyOptions(trusted_keys=(key,), workers=1))
    assert report.valid, report.failure
    assert ledger_problems(ledger) == {}
    assert set(kinds(ledger)) == set(KINDS)
    payloads = [cbor2.loads(v.value[2]) for _, v in items(ledger)
                if cbor2.loads(v.value[0])[3] == "application/vnd.receipts.receipt+cbor"]
    shapes = {shape for p in payloads for shape in RECEIPT_SHAPES
              if problem(shape, cbor2.dumps(p, canonical=True)) is None}
    assert shapes == set(RECEIPT_SHAPES)  # every shape of §6.2 came out of the service
    assert {"retry_of", "service_tier", "started_at", "usage_detail"} <= {
        k for p in payloads for k in p}
