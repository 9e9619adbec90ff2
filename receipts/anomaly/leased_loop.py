"""A background job's thread in every worker, working only while it holds its lease
(:mod:`receipts.anomaly.lease`): the anomaly detector and the spend local days."""

from __future__ import annotations

import logging
import secrets
import threading

from receipts.anomaly.lease import release
from receipts.storage.database import Database

log = logging.getLogger("receipts.lease")


class LeasedLoop:
    """A background job's thread in one worker: :meth:`run_once` every ``pass_seconds`` (it
    takes or renews the lease ``name`` with :attr:`token` and works only while it holds it);
    :meth:`stop` gives the lease up, so another worker takes over at once."""

    def __init__(self, db: Database, name: str, pass_seconds: float) -> None:
        self.db = db
        self.lease_name = name
        self.pass_seconds = pass_seconds
        self.token = name[:2] + "_" + secrets.token_hex(8)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One pass (tests call it); what it did, 0 when another worker holds the lease."""
        raise NotImplementedError

    def failed(self) -> None:
        """A pass raised: drop what this worker keeps in memory (the next pass starts over)."""

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called (a long pass ends early)."""
        return self._stop.is_set()

    def start(self) -> None:
        """Run passes in a daemon thread until :meth:`stop`."""
        self._thread = threading.Thread(target=self._loop, name=self.lease_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop, and give the lease up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            with self.db.write() as conn:
                release(conn, self.lease_name, self.token)
        except Exception:  # (shutting down: the lease expires by itself)
            log.exception("releasing the %s lease", self.lease_name)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # (a database hiccup must not end the job for good)
                log.exception("%s pass failed; retrying", self.lease_name)
                self.failed()
            self._stop.wait(self.pass_seconds)
