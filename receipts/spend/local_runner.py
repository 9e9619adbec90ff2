"""The loop that makes ended local days (:mod:`receipts.spend.local_days`), once across workers.

Every worker process runs a :class:`LocalDayRunner` thread; each pass (every
:data:`PASS_SECONDS`) it takes or renews the database lease ``spend-local-days``
(:mod:`receipts.anomaly.lease`, as the anomaly detector does) and only the holder works: for
every zone asked for, the next days (:func:`~receipts.spend.local_days.make_days`). Two holders
at once (a lapsed lease) would do no harm either: each day is stored only where the range
still ends.
"""

from __future__ import annotations

from receipts.anomaly import lease
from receipts.anomaly.leased_loop import LeasedLoop
from receipts.clock import now_ms
from receipts.spend import local_days
from receipts.storage.database import Database

LEASE = "spend-local-days"
PASS_SECONDS = 20.0
LEASE_MS = 120_000


class LocalDayRunner(LeasedLoop):
    """The local-day loop of one process; :meth:`run_once` is one pass (tests call it)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, LEASE, PASS_SECONDS)

    def run_once(self) -> int:
        """One pass: the days made (0 when another worker holds the lease)."""
        with self.db.write() as conn:
            if not lease.take(conn, LEASE, self.token, now_ms(), LEASE_MS):
                return 0
        with self.db.read() as conn:
            zones = local_days.zones(conn)
        made = 0
        for zone in zones:
            if self.stopping:
                break
            made += local_days.make_days(self.db, zone)
        return made
