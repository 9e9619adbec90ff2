"""Which bucket ranges add up to a time window: the time arithmetic of every spend read.

A window [start, end) of quarter hours is covered by whole UTC weeks and days in its middle
and quarter hours at its edges (:func:`cover`); :func:`signed_cover` lets an edge run from the
window's end to the *nearest* day boundary, added when that boundary is before the end,
subtracted when it is after: a New York day is one UTC day and two 5-hour edges, where adding
up quarter hours only took 96 of them. Two windows that meet share their edge (added to one,
subtracted from the other).
"""

from __future__ import annotations

from collections.abc import Sequence

from receipts.spend.buckets import DAY_MS, QUARTER_HOUR_MS, SPANS, WEEK_MS, origin


def cover(start: int, end: int, spans: Sequence[int] = SPANS) -> list[tuple[int, int, int]]:
    """(span, from, to) ranges of bucket starts that cover [start, end) exactly: the widest
    aligned buckets in the middle, narrower ones at the edges."""
    if start >= end:
        return []
    span, rest = spans[0], spans[1:]
    if not rest:
        return [(span, start, end)]
    base = origin(span)
    lo, hi = base - (base - start) // span * span, end - (end - base) % span
    if lo >= hi:
        return cover(start, end, rest)
    return [*cover(start, lo, rest), (span, lo, hi), *cover(hi, end, rest)]


Piece = tuple[int, int, int]
"""(span, from, to): the buckets of one span whose start is in [from, to)."""


def signed_cover(start: int, end: int) -> list[tuple[Piece, int]]:
    """Pieces with signs (+1, -1) whose signed sum is exactly [start, end): whole weeks and
    days between the UTC day boundaries nearest to each end, and the quarter hours between
    each end and its boundary, added or subtracted. A window too short to reach from one
    boundary to the next is its plain :func:`cover`."""
    def nearest_day(at: int) -> int:
        floor = at - at % DAY_MS
        return floor + DAY_MS if at - floor > DAY_MS // 2 else floor

    first, last = nearest_day(start), nearest_day(end)
    if first >= last:
        return [(piece, 1) for piece in cover(start, end)]
    out = [(piece, 1) for piece in cover(first, last, (WEEK_MS, DAY_MS))]
    if start != first:
        out.append(((QUARTER_HOUR_MS, min(start, first), max(start, first)),
                    1 if start < first else -1))
    if end != last:
        out.append(((QUARTER_HOUR_MS, min(end, last), max(end, last)),
                    1 if last < end else -1))
    return out
