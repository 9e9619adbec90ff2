"""SQLite workers with chains of their own sign ahead of the writer lock, and never write a draft
made from anything that changed before they took it.

Two ``Runtime`` objects on one deployment stand for two worker processes: each opens its own
claim file, and ``flock`` claims are per open file, so they exclude each other as processes do.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from receipts.api.schemas import CallIn
from receipts.deployment.runtime import Runtime, create_agent, open_runtime
from receipts.issuing.outcome import Job
from receipts.issuing.prepare import prepare
from receipts.issuing.service import ReceiptService
from receipts.storage.export import export_ledger
from tests.receipts.conftest import Deployment, call, make_deployment
from verifier import VerifyOptions, audit_ledger

TAGS = ("team", "project", "environment")


@pytest.fixture
def two_chains(tmp_path: Path) -> Deployment:
    return make_deployment(tmp_path, chains=2)


@pytest.fixture
def workers(two_chains: Deployment) -> Iterator[list[Runtime]]:
    runtimes = [open_runtime(two_chains.settings) for _ in range(3)]
    for runtime in runtimes:
        runtime.service.load_pricing()
    yield runtimes
    for runtime in runtimes:
        runtime.close()


def _job(runtime: Runtime, agent: Any, ids: list[str]) -> Job:
    return Job([prepare(agent, CallIn.model_validate(call(i)), TAGS) for i in ids])


def _count_drafts(service: ReceiptService, monkeypatch: pytest.MonkeyPatch,
                  before_lock: Callable[[], None] | None = None) -> dict[str, int]:
    """Count drafts made ahead of the lock and drafts written; run ``before_lock`` between."""
    counts = {"ahead": 0, "written": 0, "redrafted": 0}
    real_ahead, real_holds = service._draft_ahead, service._still_holds

    def ahead(*args: Any) -> Any:
        draft = real_ahead(*args)
        counts["ahead"] += draft is not None
        if draft is not None and before_lock is not None:
            before_lock()
        return draft

    def holds(*args: Any) -> bool:
        ok = real_holds(*args)
        counts["written" if ok else "redrafted"] += 1
        return ok

    monkeypatch.setattr(service, "_draft_ahead", ahead)
    monkeypatch.setattr(service, "_still_holds", holds)
    return counts


def _verify(runtime: Runtime) -> Any:
    out = io.BytesIO()
    export_ledger(runtime, out)
    report = audit_ledger([out.getvalue()], VerifyOptions(workers=1))
    assert report.valid, report.failure
    return report


def test_each_worker_claims_its_own_chain_and_signs_ahead(
        workers: list[Runtime], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, c = workers
    agent, _ = create_agent(a, "search", {})
    counts = [_count_drafts(w.service, monkeypatch) for w in (a, b)]
    for n in range(3):
        for k, worker in enumerate((a, b)):
            job = _job(worker, agent, [f"w{k}-{n}-{i}" for i in range(4)])
            worker.service.append([job])
            assert job.error is None and [o.status for o in job.outcomes] == [201] * 4
    assert counts == [{"ahead": 3, "written": 3, "redrafted": 0}] * 2
    report = _verify(c)
    assert report.receipts == 24 and report.chains == {"c0": 12, "c1": 12}
    # a third worker finds no chain free: it drafts under the lock only
    third = _count_drafts(c.service, monkeypatch)
    job = _job(c, agent, ["third"])
    c.service.append([job])
    assert job.outcomes[0].status == 201 and third["ahead"] == 0


def test_a_call_stored_meanwhile_makes_the_draft_a_replay_not_a_duplicate(
        workers: list[Runtime], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, _ = workers
    agent, _ = create_agent(a, "search", {})
    a.service.append([_job(a, agent, ["warm-a"])])  # each claims its chain on first use
    b.service.append([_job(b, agent, ["warm-b"])])

    def other_worker_stores_the_same_call() -> None:
        other = _job(b, agent, ["same"])
        b.service.append([other])
        assert other.outcomes[0].status == 201

    counts = _count_drafts(a.service, monkeypatch, other_worker_stores_the_same_call)
    job = _job(a, agent, ["same", "new"])
    a.service.append([job])
    assert counts == {"ahead": 1, "written": 0, "redrafted": 1}
    assert [o.status for o in job.outcomes] == [200, 201]
    assert _verify(a).receipts == 4


def test_a_head_moved_by_a_worker_without_a_claim_is_redrafted(
        workers: list[Runtime], monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, c = workers
    agent, _ = create_agent(a, "search", {})
    a.service.append([_job(a, agent, ["a0"])])
    b.service.append([_job(b, agent, ["b0"])])
    c.service.append([_job(c, agent, ["c0"]), _job(c, agent, ["c1"])])  # no claim left

    def unclaimed_worker_appends() -> None:  # round robin: one of its two lands on a's chain
        c.service.append([_job(c, agent, ["c2"])])
        c.service.append([_job(c, agent, ["c3"])])

    counts = _count_drafts(a.service, monkeypatch, unclaimed_worker_appends)
    job = _job(a, agent, ["a1"])
    a.service.append([job])
    assert counts == {"ahead": 1, "written": 0, "redrafted": 1}
    assert job.outcomes[0].status == 201
    assert _verify(a).receipts == 7
