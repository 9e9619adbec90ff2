"""The detector in the service: one loop across every worker and replica, under a lease.

Every worker process runs an :class:`AnomalyRunner` thread; each pass (every
``PASS_SECONDS``) it takes or renews the database lease ``anomaly`` (:mod:`receipts.anomaly.lease`),
and only the holder works, so the detector runs exactly once however many processes share the
database. The holder keeps one :class:`~receipts.anomaly.detector.Detector` per scope
(:mod:`receipts.anomaly.series`) in memory:

* on taking the lease it replays the stored minutes of the detector's window (4 weeks and a
  few hours: every baseline the detector can draw) through fresh detectors, each scope's
  series starting at its first stored minute, and raises what the replay finds in the last
  ``RECENT_MINUTES`` (the previous holder may have died before raising it);
* then each pass it feeds every minute that has *settled* (ended ``SETTLE_MS`` ago, so every
  receipt issued in it has committed) to every scope's detector, and *peeks*
  (:meth:`~receipts.anomaly.detector.Detector.peek`) at the minute under way: a runaway
  is alerted within seconds of the receipts that make it, not at the end of its minute.
  (In a minute's first ``SETTLE_MS`` the previous minute has not settled yet, so the peek
  is still at that one: receipts of the new minute are seen as soon as it settles, at most
  ``SETTLE_MS`` plus a pass later.)

An anomaly becomes an alert (kind ``anomaly``) whose dedup key is the scope and the incident's
first minute, raised in the same transaction that renews the lease: a replay, a peek and the
final minute, or a second holder after a lapse, all name the same incident and store one
alert. The alert names the top agent, employee, project, model and team of the spike's window
(its minute, or the trailing hour for an hour-level anomaly), the spend, the baseline, the
threshold and the factor, in the reporting currency.

With ``suspend`` (``RECEIPTS_ANOMALY_SUSPEND=1``) a new alert also suspends its top agent's key
in the same transaction (for an agent's own scope, that agent), recorded with the alert's id,
and says so in its payload (``suspension``); an admin resumes the key
(:mod:`receipts.deployment.suspensions`).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from receipts.alerts.store import raise_alert
from receipts.anomaly import lease, series
from receipts.anomaly.detector import (
    MINUTES_PER_HOUR,
    MINUTES_PER_WEEK,
    Anomaly,
    Detector,
    DetectorConfig,
)
from receipts.anomaly.leased_loop import LeasedLoop
from receipts.budgets.raw import Raw
from receipts.clock import now_ms
from receipts.deployment import suspensions
from receipts.spend import fold
from receipts.storage.database import Database
from verifier.jsonview import iso_ms
from verifier.money import format_amount

log = logging.getLogger("receipts.anomaly")

LEASE = "anomaly"
PASS_SECONDS = 2.0
LEASE_MS = 15_000
SETTLE_MS = 5_000
RECENT_MINUTES = 15
RELOAD_MS = 86_400_000
"""The holder rebuilds its detectors from the stored window once a day (bounded memory)."""
SCALE = 12
MAX_SCOPE = 512
"""The alert table's scope column (a longer scope, of long tag values, is cut; the payload
keeps it whole)."""
MINUTE_MS = 60_000


class LeaseLost(Exception):
    """Another worker holds the lease now: this one drops its state."""


def dedup_key(scope: str, minute: int) -> str:
    """One alert per scope and incident (its first minute); a long scope by its digest, to
    fit the column."""
    if len(scope) > 400:
        scope = "sha256:" + hashlib.sha256(scope.encode()).hexdigest()
    return f"anomaly:{scope}:{minute}"


class AnomalyRunner(LeasedLoop):
    """The detector loop of one process; :meth:`run_once` is one pass (tests call it)."""

    def __init__(self, db: Database, currency: str, tag_sets: Sequence[tuple[str, ...]] = (),
                 config: DetectorConfig | None = None, suspend: bool = False) -> None:
        super().__init__(db, LEASE, PASS_SECONDS)
        self.suspend = suspend
        """Whether a new alert suspends its top agent's key (``Settings.anomaly_suspend``)."""
        self.currency = currency
        self.tag_sets = tuple(tag_sets)
        self.config = config or DetectorConfig()
        self.detectors: dict[str, Detector] | None = None
        self.groups: dict[int, series.Group] = {}
        self.recent: dict[int, dict[int, int]] = {}
        """Cost per group of the last hour's minutes (what an alert attributes)."""
        self.done = 0
        """Every minute before this one has been fed to the detectors."""
        self.loaded_at = 0
        self._renewed = 0
        self._pending: dict[int, dict[int, int]] = {}
        """The minutes read last (the one under way included)."""

    @property
    def window_minutes(self) -> int:
        """How far back the detectors' baselines reach."""
        return self.config.seasonal_weeks * MINUTES_PER_WEEK + 3 * MINUTES_PER_HOUR

    def failed(self) -> None:
        """A pass raised: the detectors are rebuilt from the stored window next pass."""
        self.detectors = None

    def run_once(self, now: int | None = None) -> int:
        """One pass at ``now`` (ms); the number of alerts raised (0 when not the holder)."""
        now = now_ms() if now is None else now
        with self.db.write() as conn:
            held = lease.take(conn, LEASE, self.token, now, LEASE_MS)
        if not held:
            self.detectors = None
            return 0
        self._renewed = now_ms()
        fold.catch_up(self.db.engine)  # (the series is written by the fold)
        settled = (now - SETTLE_MS) // MINUTE_MS
        try:
            if self.detectors is None or now - self.loaded_at > RELOAD_MS:
                found = self._load(settled, now)
            else:
                found = self._advance(settled)
        except LeaseLost:
            self.detectors = None
            return 0
        peeked = self._peek(settled)
        return self._raise(found + peeked, now)

    def _load(self, settled: int, now: int) -> list[tuple[str, Anomaly]]:
        since = settled - self.window_minutes
        with self.db.read() as conn:
            minutes = series.read_minutes(conn, since)
            self.groups = series.read_groups(conn, {g for m in minutes.values() for g in m})
        with self.db.write() as conn:  # (rows outside every baseline are no longer needed)
            series.prune(conn, since - MINUTES_PER_HOUR)
        self.detectors, self.recent, self.done, self.loaded_at = {}, {}, since, now
        found = self._feed(minutes, settled)
        return [(s, a) for s, a in found if a.minute >= settled - RECENT_MINUTES]

    def _advance(self, settled: int) -> list[tuple[str, Anomaly]]:
        with self.db.read() as conn:
            minutes = series.read_minutes(conn, self.done)
            unknown = {g for m in minutes.values() for g in m} - self.groups.keys()
            if unknown:
                self.groups.update(series.read_groups(conn, unknown))
        self._pending = minutes
        return self._feed(minutes, settled)

    def _scope_costs(self, by_group: dict[int, int]) -> dict[str, int]:
        costs: dict[str, int] = defaultdict(int)
        for gid, cost in by_group.items():
            group = self.groups.get(gid)
            if group is not None:
                for scope in series.scopes_of(group, self.tag_sets):
                    costs[scope] += cost
        return costs

    def _feed(self, minutes: dict[int, dict[int, int]],
              settled: int) -> list[tuple[str, Anomaly]]:
        """Feed every minute from ``done`` to ``settled`` (excluded) to every scope."""
        assert self.detectors is not None
        found = []
        for minute in range(self.done, settled):
            if minute % MINUTES_PER_HOUR == 0:
                self._keep_lease()
            by_group = minutes.get(minute, {})
            self.recent[minute] = by_group
            self.recent.pop(minute - MINUTES_PER_HOUR, None)
            costs = self._scope_costs(by_group)
            for scope in costs.keys() - self.detectors.keys():
                self.detectors[scope] = Detector(minute, self.config)
            for scope, detector in self.detectors.items():
                anomaly = detector.observe(costs.get(scope, 0))
                if anomaly is not None:
                    found.append((scope, anomaly))
        self.done = max(self.done, settled)
        self._pending = minutes
        return found

    def _keep_lease(self) -> None:
        """Renew the lease during a long replay (weeks of minutes for many scopes take
        seconds): a lapse would let another worker start its own replay, and the two would
        take the lease from each other forever."""
        now = now_ms()
        if now - self._renewed < LEASE_MS // 3:
            return
        with self.db.write() as conn:
            held = lease.take(conn, LEASE, self.token, now, LEASE_MS)
        if not held:
            raise LeaseLost
        self._renewed = now

    def _peek(self, settled: int) -> list[tuple[str, Anomaly]]:
        """What the minute under way already shows (it is fed once it settles)."""
        assert self.detectors is not None
        by_group = self._pending.get(settled, {})
        found = []
        for scope, cost in self._scope_costs(by_group).items():
            detector = self.detectors.get(scope) or Detector(settled, self.config)
            anomaly = detector.peek(cost)
            if anomaly is not None:
                found.append((scope, anomaly))
        return found

    def _top(self, scope: str, anomaly: Anomaly) -> dict[str, Any]:
        """The largest contributor of each attribute over the anomaly's window."""
        span = 1 if anomaly.horizon == "minute" else MINUTES_PER_HOUR
        window = [self._pending.get(anomaly.minute, {}) if m == anomaly.minute
                  else self.recent.get(m, {})
                  for m in range(anomaly.minute - span + 1, anomaly.minute + 1)]
        totals: dict[str, dict[str | None, int]] = {a: defaultdict(int)
                                                    for a in series.ATTRIBUTES}
        for by_group in window:
            for gid, cost in by_group.items():
                group = self.groups.get(gid)
                if group is None or scope not in series.scopes_of(group, self.tag_sets):
                    continue
                for attribute in series.ATTRIBUTES:
                    totals[attribute][group.attribute(attribute)] += cost
        top: dict[str, Any] = {}
        for attribute, by_value in totals.items():
            if by_value:
                value, cost = max(by_value.items(), key=lambda kv: (kv[1], str(kv[0])))
                top[attribute] = {"value": value, "cost": format_amount(cost, SCALE)}
            else:
                top[attribute] = None
        return top

    def payload(self, scope: str, anomaly: Anomaly) -> dict[str, Any]:
        """The alert's payload (money as decimal strings in the reporting currency)."""
        factor = anomaly.factor
        factor_text = (format_amount(factor.numerator * 100 // factor.denominator, 2)
                       if factor is not None else None)
        spend = format_amount(anomaly.spend, SCALE)
        top = self._top(scope, anomaly)
        agent = top["agent"]["value"] if top["agent"] else None
        what = "in one minute" if anomaly.horizon == "minute" else "in the last hour"
        times = f"{factor_text}x the baseline" if factor_text else "with no baseline spend"
        return {
            "summary": f"Spend anomaly on {scope}: {spend} {self.currency} {what}, {times} "
                       f"(top agent {agent})",
            "scope": scope, "minute": iso_ms(anomaly.minute * MINUTE_MS),
            "horizon": anomaly.horizon, "basis": anomaly.basis, "currency": self.currency,
            "spend": spend, "baseline": format_amount(anomaly.baseline, SCALE),
            "threshold": format_amount(anomaly.threshold, SCALE), "factor": factor_text,
            "top": top,
        }

    def _raise(self, found: list[tuple[str, Anomaly]], now: int) -> int:
        if not found:
            return 0
        unique = {(s, a.minute): (s, a) for s, a in found}
        raised = 0
        with self.db.write() as conn:
            if not lease.take(conn, LEASE, self.token, now_ms(), LEASE_MS):
                self.detectors = None
                return 0
            for scope, anomaly in unique.values():
                payload = self.payload(scope, anomaly)
                top = payload["top"]["agent"]
                agent = top["value"] if self.suspend and top else None
                if agent is not None:
                    payload["suspension"] = _suspension_json(Raw.of(conn), agent, now)
                alert = raise_alert(conn, "anomaly", scope[:MAX_SCOPE],
                                    dedup_key(scope, anomaly.minute), payload, at=now)
                new = alert.created_at == now
                raised += new
                if new and agent is not None and payload["suspension"]["state"] == "suspended":
                    suspensions.suspend(Raw.of(conn), agent, by="anomaly alert",
                                        reason=payload["summary"], alert_id=alert.id, now=now)
                    log.warning("agent %s suspended by anomaly alert %s", agent, alert.id)
        return raised


def _suspension_json(raw: Raw, agent: str, now: int) -> dict[str, Any]:
    """What a new alert does to its top agent's key (its payload's ``suspension``): suspends
    it, or names the suspension already in force, or says the key is not active. The alert
    is one per incident (its dedup key), so an agent resumed by an admin is not suspended
    again by a replay of the same incident."""
    found = suspensions.active_of(raw, agent)
    if found is not None:
        return {**found.json(), "state": "already suspended"}
    if not suspensions.is_active_agent(raw, agent):
        return {"agent": agent, "state": "not suspended (unknown or revoked key)"}
    return {"agent": agent, "state": "suspended", "since": iso_ms(now), "by": "anomaly alert",
            "resume": f"receipt agent resume {agent}"}
