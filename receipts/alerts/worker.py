"""The delivery worker: a thread in every service process that empties the alert outbox.

Each worker polls the database (a cheap read while idle), hands new alerts to the channels,
claims due deliveries under a lease, POSTs them with httpx (a few at a time, each within the
lease) and records the outcome (:mod:`receipts.alerts.outbox`). Several workers, processes or
replicas share the queue safely: the lease decides who attempts a row, and the receiver
deduplicates the rare second attempt by the delivery's event id.

Only a 2xx counts as delivered: a redirect, a 4xx or a 5xx, a timeout or a refused connection
is retried with backoff (a receiver that is misconfigured today may be fixed tomorrow), until
the policy's last attempt, after which the delivery is ``failed`` and shown by
``GET /v1/alerts``.
"""

from __future__ import annotations

import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from receipts.alerts import messages
from receipts.alerts.channels import sealed_channel
from receipts.alerts.outbox import (
    Claimed,
    RetryPolicy,
    claim,
    fan_out,
    has_work,
    record_delivered,
    record_failure,
)
from receipts.alerts.sealing import Sealer
from receipts.alerts.store import get_alert
from receipts.clock import now_ms
from receipts.storage.database import Database

log = logging.getLogger("receipts.alerts")

POLL_SECONDS = 0.5
CLAIM_BATCH = 8
"""Deliveries one worker attempts at once (in parallel: one slow receiver does not hold up
the others, and every attempt of a batch ends within the lease)."""


class DeliveryWorker:
    """Delivers the outbox of one database; ``run_once`` is one pass (tests call it)."""

    def __init__(self, db: Database, sealer: Sealer, source: str,
                 policy: RetryPolicy | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.db = db
        self.sealer = sealer
        self.source = source
        self.policy = policy or RetryPolicy()
        self.token = "lw_" + secrets.token_hex(8)
        self._client = httpx.Client(timeout=self.policy.timeout_s, follow_redirects=False,
                                    transport=transport)
        self._pool = ThreadPoolExecutor(CLAIM_BATCH, thread_name_prefix="alert-delivery")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run passes in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._loop, name="alert-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the pass under way (its results are recorded), then stop."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # (a database hiccup must not end delivery for good)
                log.exception("alert delivery pass failed; retrying")
                busy = 0
            if not busy:
                self._stop.wait(POLL_SECONDS)

    def run_once(self) -> int:
        """Hand over new alerts and attempt the due deliveries; how many were attempted."""
        now = now_ms()
        with self.db.read() as conn:
            if not has_work(conn, now):
                return 0
        with self.db.write() as conn:
            fan_out(conn, now)
        with self.db.write() as conn:
            claimed = claim(conn, now_ms(), self.policy.lease_ms, self.token, CLAIM_BATCH)
        list(self._pool.map(self._attempt, claimed))
        return len(claimed)

    def _request(self, delivery: Claimed) -> messages.Request | str:
        """The POST for a delivery, or why there is none (channel removed)."""
        with self.db.read() as conn:
            kind, sealed, removed_at = sealed_channel(conn, delivery.channel_id)
            alert = get_alert(conn, delivery.alert_id)
        if removed_at is not None:
            return "channel removed"
        if alert is None:  # (alerts are never deleted; a foreign row would be a bug)
            return f"no alert {delivery.alert_id}"
        url, secret = self.sealer.open(delivery.channel_id, sealed)
        if kind == "webhook":
            return messages.webhook(url, secret or "", alert, delivery.id, delivery.attempt,
                                    now_ms() // 1000)
        if kind == "slack":
            return messages.slack(url, alert, delivery.id, delivery.attempt)
        return messages.pagerduty(url, secret or "", alert, delivery.id, delivery.attempt,
                                  self.source)

    def _attempt(self, delivery: Claimed) -> None:
        status: int | None = None
        try:
            request = self._request(delivery)
            if isinstance(request, str):
                with self.db.write() as conn:
                    record_failure(conn, delivery, self.token, None, request, now_ms(),
                                   self.policy, final=True)
                return
            response = self._client.post(request.url, content=request.body,
                                         headers=request.headers)
            status = response.status_code
            if 200 <= status < 300:
                with self.db.write() as conn:
                    record_delivered(conn, delivery.id, status, now_ms())
                return
            error = f"HTTP {status}: {response.text[:200]}"
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {e}"
        except Exception as e:  # (a bad channel row must not stop the others)
            log.exception("alert delivery %s", delivery.id)
            error = f"{type(e).__name__}: {e}"
        with self.db.write() as conn:
            state = record_failure(conn, delivery, self.token, status, error, now_ms(),
                                   self.policy)
        log.warning("alert delivery %s attempt %d: %s (%s)", delivery.id, delivery.attempt,
                    error, state)
