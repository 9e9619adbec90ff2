"""``provider_response_id``: the provider's id of the response, kept in the signed receipt
(spec §6.1), part of "the same body" only when sent (older bodies keep their hash)."""

from __future__ import annotations

from tests.receipts.conftest import Deployment, call
from verifier import VerifyOptions, audit_ledger


def test_the_provider_response_id_is_signed_and_verifies(deployment: Deployment) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        kept = client.post("/v1/receipts", json=call("p1", provider_response_id="chatcmpl-abc"),
                           headers=auth)
        absent = client.post("/v1/receipts", json=call("p2"), headers=auth)
        again = client.post("/v1/receipts", json=call("p1", provider_response_id="chatcmpl-abc"),
                            headers=auth)
        other = client.post("/v1/receipts", json=call("p1", provider_response_id="chatcmpl-x"),
                            headers=auth)
        ledger = client.get("/v1/ledger", headers=deployment.admin).content
    assert kept.status_code == 201, kept.text
    assert kept.json()["receipt"]["provider_response_id"] == "chatcmpl-abc"
    assert "provider_response_id" not in absent.json()["receipt"]
    assert again.status_code == 200 and again.json()["receipt"]["id"] == \
        kept.json()["receipt"]["id"]
    assert other.status_code == 409
    report = audit_ledger([ledger], VerifyOptions(workers=1))
    assert report.valid and report.receipts == 2, report.failure


def test_an_empty_or_overlong_provider_response_id_is_a_422_naming_it(
        deployment: Deployment) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        answers = [client.post("/v1/receipts", json=call(f"q{i}", provider_response_id=v),
                               headers=auth) for i, v in enumerate(["", "x" * 257, 7])]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert [f["field"] for f in answer.json()["error"]["fields"]] == ["provider_response_id"]
