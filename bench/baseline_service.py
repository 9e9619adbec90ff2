"""The unsigned baseline bench/issue.py measures the service against, and its server.

What signing and chaining cost is the difference between the service and the same request path
without them: the same HTTP edge, authentication, validation, pricing, group commit, replay
and conflict answers and database insert, storing each receipt as an unsigned, unchained JSON
row in a table of its own (``receipts_baseline``, created here, never by the service). It lives
in bench/ so that nothing in the product can sign nothing by a setting; the service's append
path is reused through :class:`~receipts.issuing.service.ReceiptService`'s own steps.

    RECEIPTS_DATA=DIR python bench/baseline_service.py --port 8000 --workers 2

(on a deployment made by ``receipt init``; the ``RECEIPTS_*`` settings are read as by
``receipt serve``). Answers carry ``"cose": ""``: there is no signature.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fastapi import FastAPI

from receipts.api.app import create_app
from receipts.clock import now_ms
from receipts.deployment.runtime import Runtime, open_runtime
from receipts.deployment.settings import Settings, load_settings
from receipts.issuing.outcome import Job, Outcome
from receipts.issuing.planning import checked, plan
from receipts.issuing.prepare import Prepared
from receipts.issuing.pricing_cache import BilledAhead, Draft
from receipts.issuing.receipt_builder import Call, price_fields, receipt_payload
from receipts.issuing.service import ReceiptService
from receipts.storage.append_sql import AppendConnection
from verifier.jsonview import receipt_json
from verifier.schema import ZERO_HASH

BASELINE = sa.Table(
    "receipts_baseline", sa.MetaData(),  # (not the service's metadata: init never makes it)
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("request_id", sa.String(256), nullable=False),
    sa.Column("body_hash", sa.LargeBinary, nullable=False),
    sa.Column("issued_at", sa.BigInteger, nullable=False),
    sa.Column("payload_json", sa.Text, nullable=False),
    sa.UniqueConstraint("agent_id", "request_id", name="uq_baseline_agent_request"),
)
COLUMNS = ("id", "agent_id", "request_id", "body_hash", "issued_at", "payload_json")
PG_TYPES = ("varchar", "varchar", "varchar", "bytea", "int8", "varchar")
UNSIGNED = b""
"""What stands for the COSE item in an answer: nothing was signed."""


class BaselineConnection(AppendConnection):
    """The writer's connection, reading and inserting baseline rows as the service's own
    methods read and insert receipts (same batched lookups, same ``COPY`` on PostgreSQL)."""

    def existing_baseline(self, keys: Iterable[tuple[str, str]],
                          ) -> dict[tuple[str, str], tuple[bytes, Any]]:
        """Stored rows for (agent, request_id) pairs: (body hash, payload JSON)."""
        return self._stored("receipts_baseline", "payload_json", keys)

    def insert_baseline(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert rows in :data:`COLUMNS` order."""
        if not rows:
            return
        if not self.is_sqlite:
            self._copy("receipts_baseline", COLUMNS, PG_TYPES, rows)
            return
        self._cursor().executemany(
            f"INSERT INTO receipts_baseline ({', '.join(COLUMNS)}) VALUES "
            f"({', '.join(['?'] * len(COLUMNS))})", rows)


class BaselineService(ReceiptService):
    """The service's append with the signing, chaining and chain head left out."""

    def _connection(self) -> AppendConnection:
        if self._conn is None:
            self._conn = BaselineConnection(self.db.engine.raw_connection(), self.db.is_sqlite)
        return self._conn

    def _draft_ahead(self, conn: AppendConnection, jobs: Sequence[Job],
                     ahead: BilledAhead | None) -> Draft | None:
        return None  # (no chain to claim: everything happens under the writer lock)

    def _append(self, conn: AppendConnection, jobs: Sequence[Job],
                ahead: BilledAhead | None) -> None:
        """Plan, price and build the payloads as the service does, then store them as JSON."""
        assert isinstance(conn, BaselineConnection)
        self._refresh_pricing(conn)
        calls = [c for j in jobs for c in j.calls]
        found = conn.existing_baseline(c.key for c in calls)
        existing = {k: Outcome(200, item=UNSIGNED, view=json.loads(v))
                    for k, (_, v) in found.items()}
        hashes = {k: h for k, (h, _) in found.items()}
        active = conn.active_agents(c.agent_id for c in calls)
        to_store = plan(jobs, existing, hashes, active)
        issued_at = now_ms()
        book, rates = self._book_and_rates(issued_at)

        def build(p: Prepared, receipt_id: str) -> tuple[Call, dict[str, Any]]:
            call = self._call(p, book, issued_at, receipt_id, ahead)
            return call, receipt_payload(call, "baseline", 0, ZERO_HASH, price_fields(
                call, book, rates, self.reporting_currency))

        rows = []
        replan = partial(plan, jobs, existing, hashes, active)
        for p, outcome, call, payload in checked(jobs, to_store, build, replan):
            outcome.item, outcome.view = UNSIGNED, receipt_json(payload)
            rows.append((call.receipt_id, p.agent_id, p.request_id, p.body_hash, issued_at,
                         json.dumps(outcome.view)))
        conn.insert_baseline(rows)


def open_baseline(settings: Settings) -> Runtime:
    """The deployment opened as the service opens it, appending through the baseline."""
    runtime = open_runtime(settings)
    try:
        BASELINE.create(runtime.db.engine, checkfirst=True)
    except BaseException:
        runtime.close()
        raise
    s = runtime.service
    runtime.service = BaselineService(runtime.db, s.signer, issuer=s.issuer,
                                      reporting_currency=s.reporting_currency,
                                      chain_ids=s.chain_ids, checkpoint_every=s.checkpoint_every)
    return runtime


def baseline_app(settings: Settings) -> FastAPI:
    """The service's application, appending through the baseline."""
    return create_app(settings, open_deployment=open_baseline)


def app_from_env() -> FastAPI:
    """Factory for uvicorn's worker processes (settings from ``RECEIPTS_*``)."""
    return baseline_app(load_settings())


def main() -> None:
    """Serve the baseline as ``receipt serve`` serves the service."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    settings = load_settings()
    open_baseline(settings).close()  # the table exists before the workers race to make it
    os.environ.update(settings.with_overrides(self_check=False).to_env())
    uvicorn.run("baseline_service:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, access_log=False, log_level="info",
                app_dir=str(Path(__file__).resolve().parent), timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
