"""``started_at`` is a time a receipt can hold and a call can have had: from 1970 (receipt
times are milliseconds since the epoch) to the receipt's own issue time, plus a little clock
skew. Before the epoch it was signed and broke the ledger for good; far past it, nonsense."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from receipts.issuing.prepare import STARTED_AT_SKEW_MS
from tests.receipts.conftest import Deployment, call
from verifier import VerifyOptions, audit_ledger


def _iso(when: dt.datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fields(response: Any) -> dict[str, str]:
    return {f["field"]: f["reason"] for f in response.json()["error"].get("fields", [])}


@pytest.mark.parametrize("started_at", [
    "1969-12-31T23:59:59.999Z",
    "1970-01-01T00:59:59.999+01:00",  # the same instant, another offset
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",  # was a 500: converting it to UTC left the calendar
    "9999-12-31T23:59:59.999Z",
    "9999-12-31T23:59:59-01:00",  # was a 500 too
    "2999-01-01T00:00:00Z",
])
def test_started_at_outside_epoch_to_issue_time_is_a_422(deployment: Deployment,
                                                          started_at: str) -> None:
    _, auth = deployment.agent()
    with deployment.client() as client:
        single = client.post("/v1/receipts", json=call("s", started_at=started_at),
                             headers=auth)
        batch = client.post("/v1/receipts/batch", json={"calls": [
            call("b0"), call("b1", started_at=started_at)], "atomic": False}, headers=auth)
        ledger = client.get("/v1/ledger", headers=deployment.admin).content
    assert single.status_code == 422, single.text
    assert set(_fields(single)) == {"started_at"}
    results = batch.json()["results"]
    assert [r["status"] for r in results] == [201, 422]
    assert [f["field"] for f in results[1]["error"]["fields"]] == ["calls.1.started_at"]
    report = audit_ledger([ledger], VerifyOptions(workers=1))
    assert report.valid and report.receipts == 1, report.failure


def test_started_at_from_the_epoch_to_the_skew_is_signed_exactly(deployment: Deployment) -> None:
    """The edges are accepted, and milliseconds are kept exactly (no float on the way)."""
    _, auth = deployment.agent()
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=STARTED_AT_SKEW_MS - 30_000)
    sent = ["1970-01-01T00:00:00.000Z", "2026-03-02T10:00:00.123+01:00",
            "2026-03-02T09:00:00.001Z", _iso(soon)]
    with deployment.client() as client:
        got = [client.post("/v1/receipts", json=call(f"r{i}", started_at=s), headers=auth)
               for i, s in enumerate(sent)]
        ledger = client.get("/v1/ledger", headers=deployment.admin).content
    assert [r.status_code for r in got] == [201] * 4, [r.text for r in got]
    assert [r.json()["receipt"]["started_at"] for r in got] == [
        "1970-01-01T00:00:00.000Z", "2026-03-02T09:00:00.123Z", "2026-03-02T09:00:00.001Z",
        _iso(soon)]
    assert audit_ledger([ledger], VerifyOptions(workers=1)).valid
