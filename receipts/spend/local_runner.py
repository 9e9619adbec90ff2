"""The loop that makes ended local days (:mod:`receipts.spend.local_days`), once across workers.

Every worker process runs a :class:`LocalDayRunner` thread; each pass (every
:data:`PASS_SECONDS`) it takes or renews the database lease ``spend-local-days``
(:mod:`receipts.anomaly.lease`, as the anomaly detector does) and only the holder works: for
every zone asked for, the next days (:func:`~receipts.spend.local_days.make_days`). Two holders
at once (a lapsed lease) would do no harm either: each day is stored only where the range
still ends.
"""

from __future__ import annotations

import logging
import secrets
import threading

from receipts.anomaly import lease
from receipts.clock import now_ms
from receipts.spend import local_days
from receipts.storage.database import Database

log = logging.getLogger("receipts.spend")

LEASE = "spend-local-days"
PASS_SECONDS = 20.0
LEASE_MS = 120_000


class LocalDayRunner:
    """The local-day loop of one process; :meth:`run_once` is one pass (tests call it)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.token = "ld_" + secrets.token_hex(8)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run passes in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._loop, name="spend-local-days",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop, and give the lease up so another worker takes over at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            with self.db.write() as conn:
                lease.release(conn, LEASE, self.token)
        except Exception:  # (shutting down: the lease expires by itself)
            log.exception("releasing the local-day lease")

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # (a database hiccup must not end the loop for good)
                log.exception("local-day pass failed; retrying")
            self._stop.wait(PASS_SECONDS)

    def run_once(self) -> int:
        """One pass: the days made (0 when another worker holds the lease)."""
        with self.db.write() as conn:
            if not lease.take(conn, LEASE, self.token, now_ms(), LEASE_MS):
                return 0
        with self.db.read() as conn:
            zones = local_days.zones(conn)
        made = 0
        for zone in zones:
            if self._stop.is_set():
                break
            made += local_days.make_days(self.db, zone)
        return made
