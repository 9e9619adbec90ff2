"""``Detector.peek`` answers what ``observe`` would, without taking the minute: the service
alerts on the minute under way and must name the incident the settled minute opens."""

from __future__ import annotations

import random

from receipts.anomaly.detector import UNIT, Detector


def test_peek_matches_observe_and_changes_nothing() -> None:
    rng = random.Random(7)
    detector = Detector(start_minute=28_000_000)
    opened = 0
    for i in range(3 * 1440):
        cost = rng.randrange(0, UNIT // 10)
        if i % 997 < 4:  # (a few runaway minutes, after and before a day of history)
            cost += 30 * UNIT
        before = (len(detector.costs), detector.now)
        partial = cost // 2
        peeked_partial = detector.peek(partial)
        peeked = detector.peek(cost)
        assert (len(detector.costs), detector.now) == before
        observed = detector.observe(cost)
        assert peeked == observed
        if peeked_partial is not None:  # (cost only grows: an early sign is the same incident)
            assert observed is not None and observed.minute == peeked_partial.minute
        opened += observed is not None
    assert opened >= 3
