"""The FastAPI application: lifespan (open, self-check, group-commit writer), routes, errors.

``create_app(settings)`` is what tests and ``receipt demo`` use; ``app_from_env`` is the factory
uvicorn's worker processes call (``receipt serve`` passes the settings through ``RECEIPTS_*``
environment variables). With ``--workers N`` the self-check runs once in ``receipt serve`` before
the workers start, not N times.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from receipts import __version__
from receipts.alerts.outbox import RetryPolicy
from receipts.alerts.sealing import Sealer
from receipts.alerts.worker import DeliveryWorker
from receipts.anomaly.runner import AnomalyRunner
from receipts.api import errors, openapi
from receipts.api.body_limits import BodyLimit
from receipts.api.dependencies import AppContext, Authenticator
from receipts.api.no_nul import RefuseNul
from receipts.api.routes.admin import router as admin_router
from receipts.api.routes.alerts import router as alerts_router
from receipts.api.routes.allocations import router as allocations_router
from receipts.api.routes.budgets import admin_router as budgets_admin_router
from receipts.api.routes.budgets import agent_router as budgets_agent_router
from receipts.api.routes.budgets import approver_router as budgets_approver_router
from receipts.api.routes.imports import router as import_router
from receipts.api.routes.ledger import GATES
from receipts.api.routes.ledger import router as public_router
from receipts.api.routes.otlp import router as otlp_router
from receipts.api.routes.policy import router as policy_router
from receipts.api.routes.receipts import router as receipts_router
from receipts.api.routes.reports import router as reports_router
from receipts.api.routes.spend import router as spend_router
from receipts.api.routes.statements import router as statements_router
from receipts.budgets.gate import Gate
from receipts.clock import now_ms
from receipts.dashboard import routes as dashboard
from receipts.deployment.runtime import Runtime, open_runtime
from receipts.deployment.settings import Settings, load_settings
from receipts.issuing.group_commit import Appender
from receipts.policies.gate import PolicyGate
from receipts.spend.fold import FoldLoop
from receipts.spend.local_runner import LocalDayRunner
from receipts.storage import queries as store
from receipts.storage.self_check import self_check

log = logging.getLogger("receipts")

DESCRIPTION = """Signed, hash-chained cost receipts for LLM API calls.

Agents `POST /v1/receipts` once per LLM call with `Authorization: Bearer <agent key>` and get
back a priced receipt signed with Ed25519 (COSE_Sign1), chained into an append-only ledger that
`receipt verify` checks offline. Each operation names the credentials it takes (`AgentKey`,
`AdminToken`, `FinanceToken`, `TeamToken`, any of several, or none for public routes).
Errors are always the one `ErrorBody`, `{"error": {"code", "message", "fields"?}}`, whatever
the status.
"""


def _checkpoint_all(runtime: Runtime) -> None:
    """Sign the current heads at shutdown: the next self-check starts from here."""
    with runtime.db.write() as conn:
        for head in store.heads(conn):
            if head.size:
                runtime.service.save_checkpoint(conn, head.chain, head.size, head.head,
                                                now_ms())


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Exempt what start-up built (modules, price books, the app) from garbage collection.

    Every batch answer keeps thousands of objects alive long enough to reach the oldest
    generation, so full collections ran every few batches and each one walked the ~120,000
    objects of the price books and libraries: measured, 15% of a batched receipt's time
    (350 ms in 2.3 s), and 12 ms with the start-up heap frozen. Anything built later is
    collected as usual; the heap is unfrozen at shutdown (tests start many apps in one process).
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def delivery_worker(runtime: Runtime) -> DeliveryWorker:
    """This process's alert delivery worker (every worker process runs one; leases share the
    outbox between them)."""
    s = runtime.settings
    policy = RetryPolicy(base_ms=s.alert_retry_base_ms, max_attempts=s.alert_max_attempts,
                         lease_ms=s.alert_lease_ms)
    return DeliveryWorker(runtime.db, Sealer(runtime.signer), runtime.facts.issuer, policy)


def anomaly_runner(runtime: Runtime) -> AnomalyRunner | None:
    """This process's detector loop (every worker process runs one; only the holder of the
    database lease works), or None when detection is off."""
    s = runtime.settings
    if not s.anomaly_detection:
        return None
    return AnomalyRunner(runtime.db, runtime.facts.reporting_currency, s.anomaly_tag_sets,
                         suspend=s.anomaly_suspend)


def create_app(settings: Settings | None = None, *,
               open_deployment: Callable[[Settings], Runtime] = open_runtime) -> FastAPI:
    """The application for ``settings`` (default: from the environment).

    ``open_deployment`` opens the deployment at start-up (:func:`open_runtime`); a benchmark
    may pass one that measures another append path behind the same HTTP edge.
    """
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await run_in_threadpool(open_deployment, settings)
        try:
            if settings.self_check:
                checked = await run_in_threadpool(self_check, runtime)
                log.info("self-check: %d receipts valid (%d fully verified)", checked.receipts,
                         checked.fully_verified)
            appender = Appender(runtime.service)
            app.state.ctx = AppContext(runtime, appender, Authenticator(runtime),
                                       PolicyGate(runtime))
            await run_in_threadpool(runtime.service.load_pricing)
            alerts = delivery_worker(runtime)
            alerts.start()
            detector = anomaly_runner(runtime)
            if detector is not None:
                detector.start()
            folding = FoldLoop(runtime.db.engine)
            folding.start()
            local_days = LocalDayRunner(runtime.db)
            local_days.start()
            try:
                with frozen_heap():
                    yield
            finally:
                await run_in_threadpool(local_days.stop)
                await run_in_threadpool(folding.stop)
                if detector is not None:
                    await run_in_threadpool(detector.stop)
                await run_in_threadpool(alerts.stop)
            await appender.close()
            gate: Gate | None = getattr(app.state, "budget_gate", None)
            if gate is not None:  # (made at the first authorization; a restart makes another)
                gate.close()
                app.state.budget_gate = None
            await run_in_threadpool(_checkpoint_all, runtime)
        finally:
            runtime.close()

    app = FastAPI(title="receipts", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan)
    errors.install(app, pages={dashboard.ROOT: dashboard.error_page})
    # (the two paths agents call on every LLM call first: a request is matched against the
    # routers in this order, and each router passed costs; measured, matching POST
    # /v1/authorize behind four routers took more of its time than its budget transaction)
    app.include_router(receipts_router)
    app.include_router(budgets_agent_router)
    app.include_router(otlp_router)
    app.include_router(admin_router)
    app.include_router(import_router)
    app.include_router(alerts_router)
    app.include_router(budgets_admin_router)
    app.include_router(budgets_approver_router)
    app.include_router(policy_router)
    app.include_router(allocations_router)
    app.include_router(spend_router)
    app.include_router(reports_router)
    app.include_router(statements_router)
    app.include_router(public_router)
    dashboard.install(app)
    app.add_middleware(BodyLimit, single=settings.max_body_bytes,
                       batch=settings.max_batch_body_bytes)
    app.add_middleware(RefuseNul)
    app.state.settings = settings

    def document() -> dict[str, Any]:
        return openapi.document(app, settings, GATES)

    app.openapi = document  # type: ignore[method-assign]
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers (``--factory``)."""
    return create_app(load_settings())
