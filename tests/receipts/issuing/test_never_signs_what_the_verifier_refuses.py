"""The service never signs what the verifier refuses: every payload goes through the verifier's
schema step before it is signed, whatever request validation let through.

Request validation is a second copy of the format's rules; these tests open a gap in it on
purpose (``started_at`` before 1970 passed it once, and got signed) and check that the schema
step behind it still refuses: a 422 naming the field, the item's error in a batch, the whole
of an atomic batch, on the normal path and on the path that signs ahead of the writer lock, and
a ledger that verifies afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from receipts.errors import Invalid
from receipts.issuing import prepare as prepare_module
from receipts.issuing import receipt_builder
from receipts.issuing.payload_check import UnsignablePayload, receipt_refusal
from receipts.issuing.receipt_builder import Call, ChainHead, price_fields, sign_receipt
from receipts.issuing.service import ReceiptService
from receipts.pricing.books import shipped_price_book
from tests.receipts.conftest import Deployment, call, make_deployment, postgres_schema
from verifier import VerifyOptions, audit_ledger
from verifier.keys import PublicKey

BEFORE_1970 = "1969-12-31T23:59:59.999Z"


@pytest.fixture
def gap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Request validation no longer refuses a ``started_at`` before the epoch (as before)."""
    def unchecked(started_at: dt.datetime | None, now: int) -> int | None:
        if started_at is None:
            return None
        return (started_at - prepare_module.EPOCH) // dt.timedelta(milliseconds=1)

    monkeypatch.setattr(prepare_module, "started_at_ms", unchecked)


@pytest.fixture(params=["sqlite", "sqlite-ahead", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def dep(request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    """A deployment on each path: SQLite, SQLite signing ahead of the writer lock (two
    chains: the process claims one and drafts there; asserted to happen), PostgreSQL."""
    with ExitStack() as stack:
        db_url = stack.enter_context(postgres_schema()) if request.param == "postgres" else None
        chains = 2 if request.param == "sqlite-ahead" else 1
        deployment = make_deployment(tmp_path, db_url, chains=chains)
        drafted: list[bool] = []
        original = ReceiptService._draft_ahead

        def spy(self: ReceiptService, *args: Any) -> Any:
            draft = original(self, *args)
            drafted.append(draft is not None)
            return draft

        monkeypatch.setattr(ReceiptService, "_draft_ahead", spy)
        yield deployment
        assert any(drafted) == (request.param == "sqlite-ahead")


def _verifies(dep: Deployment, client: Any) -> int:
    ledger = client.get("/v1/ledger", headers=dep.admin).content
    key = PublicKey(dep.made.signer.public_key)
    report = audit_ledger([ledger], VerifyOptions(trusted_keys=(key,), workers=1))
    assert report.valid, report.failure
    return report.receipts


def _fields(response: Any) -> dict[str, str]:
    return {f["field"]: f["reason"] for f in response.json()["error"].get("fields", [])}


@pytest.mark.usefixtures("gap")
def test_a_single_call_the_schema_refuses_is_a_422_naming_the_field(dep: Deployment) -> None:
    _, auth = dep.agent()
    with dep.client() as client:
        refused = client.post("/v1/receipts", json=call("bad", started_at=BEFORE_1970),
                              headers=auth)
        after = client.post("/v1/receipts", json=call("good"), headers=auth)
        assert _verifies(dep, client) == 1
    assert refused.status_code == 422, refused.text
    assert "must be an unsigned integer" in _fields(refused)["started_at"]
    assert "nothing was signed" in refused.json()["error"]["message"]
    assert after.status_code == 201 and after.json()["receipt"]["seq"] == 0


@pytest.mark.usefixtures("gap")
def test_a_batch_refuses_the_item_and_an_atomic_batch_refuses_all(dep: Deployment) -> None:
    _, auth = dep.agent()
    items = [call("a"), call("b", started_at=BEFORE_1970), call("c")]
    with dep.client() as client:
        atomic = client.post("/v1/receipts/batch", json={"calls": items}, headers=auth)
        assert _verifies(dep, client) == 0
        each = client.post("/v1/receipts/batch", json={"calls": items, "atomic": False},
                           headers=auth)
        assert _verifies(dep, client) == 2
    assert atomic.status_code == 422, atomic.text
    assert set(_fields(atomic)) == {"calls.1.started_at"}
    assert "nothing stored" in atomic.json()["error"]["message"]
    results = each.json()["results"]
    assert [r["status"] for r in results] == [201, 422, 201]
    assert [f["field"] for f in results[1]["error"]["fields"]] == ["calls.1.started_at"]
    assert results[0]["receipt"]["seq"] + 1 == results[2]["receipt"]["seq"]  # no gap left


@pytest.mark.usefixtures("gap")
def test_a_repeat_of_a_refused_call_in_the_same_group_is_refused_too(dep: Deployment) -> None:
    """Two retries of one call in one group: the first is refused, so the second is no replay
    of a receipt; it is judged as new, and refused alike."""
    _, auth = dep.agent()
    bad = call("twice", started_at=BEFORE_1970)
    with dep.client() as client:
        each = client.post("/v1/receipts/batch", json={"calls": [bad, bad, call("ok")],
                                                       "atomic": False}, headers=auth)
        assert _verifies(dep, client) == 1
    assert [r["status"] for r in each.json()["results"]] == [422, 422, 201]


def test_a_refusal_of_the_services_own_field_is_a_500_and_signs_nothing(
        deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing the agent sent is at fault (here: the identity rate's source is empty), so the
    answer is not a 422, and still nothing is signed."""
    rule = receipt_builder.receipt_fx
    monkeypatch.setattr(receipt_builder, "receipt_fx",
                        lambda *args: {**(rule(*args) or {}), "source": ""})
    _, auth = deployment.agent()
    with deployment.client() as client:
        refused = client.post("/v1/receipts", json=call("r"), headers=auth)
        assert _verifies(deployment, client) == 0
    assert refused.status_code == 500
    assert "would not verify" in refused.json()["error"]["message"]


def _payload(**changes: Any) -> dict[str, Any]:
    _, book = shipped_price_book()
    c = Call(request_id="r", provider="openai", model="gpt-4o", model_requested="gpt-4o",
             agent="a", tags={"team": "t"}, usage={"input": 10, "output": 2},
             issued_at=1_764_583_200_000, receipt_id="id-1")
    payload = receipt_builder.receipt_payload(c, "c0", 0, bytes(32),
                                              price_fields(c, book, [], "USD"))
    payload.update(changes)
    return payload


@pytest.mark.parametrize(("changes", "field"), [
    ({"started_at": -1}, "started_at"),
    ({"model_requested": "m" * 257}, "model"),
    ({"tags": {"": "x"}}, "tags"),
    ({"usage_detail": {"reasoning": -1}}, "usage"),
    ({"service_tier": "t" * 33}, "service_tier"),
    ({"cost": 2**64}, "usage"),
])
def test_each_refusal_names_the_request_field_it_came_from(changes: dict[str, Any],
                                                           field: str) -> None:
    assert receipt_refusal(_payload()) is None
    refusal = receipt_refusal(_payload(**changes))
    assert isinstance(refusal, Invalid) and [f.field for f in refusal.fields] == [field]


def test_a_refusal_of_a_field_no_request_makes_is_not_blamed_on_the_request() -> None:
    assert isinstance(receipt_refusal(_payload(chain="")), UnsignablePayload)
    assert isinstance(receipt_refusal(_payload(fx={"currency": "USD"})), UnsignablePayload)


def test_sign_receipt_refuses_too() -> None:
    """The builder's own signing function (the demo's traffic uses it) checks as well."""
    from receipts.deployment.signing_key import Signer

    signer = Signer.generate()
    _, book = shipped_price_book()
    bad = Call(request_id="r", provider="openai", model="gpt-4o", model_requested="gpt-4o",
               agent="a", tags={"team": "t"}, usage={"input": 1}, issued_at=1, receipt_id="i",
               started_at=-5)
    head = ChainHead("c0")
    with pytest.raises(Invalid, match="started_at"):
        sign_receipt(signer, head, bad, price_fields(bad, book, [], "USD"))
    assert head.size == 0
