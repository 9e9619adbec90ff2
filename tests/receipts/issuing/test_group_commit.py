"""Group commit: a group waits (briefly) for the clients the groups before it answered, so a
closed loop of clients does not split into cohorts that each pay a whole transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

from receipts.issuing.group_commit import Appender
from receipts.issuing.outcome import Job
from receipts.issuing.service import ReceiptService


class Recorder:
    """Stands in for :class:`ReceiptService`: records the size of each appended group."""

    def __init__(self) -> None:
        self.groups: list[int] = []

    def append(self, jobs: Sequence[Job]) -> None:
        self.groups.append(len(jobs))

    def close(self) -> None:
        pass


async def _submit_after(appender: Appender, turns: int) -> None:
    """Submit an empty job after ``turns`` turns of the event loop (no wall time involved)."""
    for _ in range(turns):
        await asyncio.sleep(0)
    await appender.submit(Job([]))


def _run(scenario: list[list[int]]) -> list[int]:
    """Each wave: jobs submitted after these numbers of loop turns; waves one after the other."""
    recorder = Recorder()

    async def main() -> None:
        appender = Appender(cast(ReceiptService, recorder))
        for wave in scenario:
            await asyncio.wait_for(asyncio.gather(*(_submit_after(appender, t) for t in wave)),
                                   timeout=30)
        await appender.close()

    asyncio.run(main())
    return recorder.groups


def test_late_requests_join_the_group_of_the_ones_before_them() -> None:
    # 4 at once, then 4 of which two come a few loop turns late: still one group of 4
    assert _run([[0, 0, 0, 0], [0, 0, 6, 8]]) == [4, 4]


def test_a_group_short_of_its_target_is_appended_after_the_linger() -> None:
    assert _run([[0, 0, 0, 0], [0, 0]]) == [4, 2]


def test_a_group_less_than_half_full_does_not_wait() -> None:
    # requests trickling in at their own pace (an open loop) are not held back
    assert _run([[0] * 8, [0, 0, 6]]) == [8, 2, 1]


def test_a_lone_client_never_waits_for_others() -> None:
    # after a group of one the next request goes at once: a sequential client is not delayed
    assert _run([[0], [0], [0, 12]]) == [1, 1, 1, 1]


def test_small_groups_are_not_waited_for() -> None:
    # after a group of 3 (below LINGER_MIN_TARGET, low load) a late request is not waited for
    assert _run([[0, 0, 0], [0, 0, 6]]) == [3, 2, 1]
