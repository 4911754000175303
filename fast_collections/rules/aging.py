"""Aging buckets of overdue amounts, free of any database access.

A company sets the upper limits of its buckets in days overdue, such as
30, 60 and 90. They make the buckets current (not yet overdue), 1-30, 31-60,
61-90 and over 90.
"""

from collections.abc import Sequence
from itertools import pairwise

DEFAULT_LIMITS = "30,60,90"


def parse_limits(text: str) -> tuple[int, ...]:
    """Return the bucket limits written in ``text``, such as ``"30,60,90"``.

    Raises ValueError unless they are whole numbers of days above zero, in
    increasing order.
    """
    parts = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not parts:
        raise ValueError("no limit")
    limits = tuple(int(part) for part in parts)
    if limits[0] < 1 or any(
        following <= limit for limit, following in pairwise(limits)
    ):
        raise ValueError(f"limits {limits} are not increasing from 1")
    return limits


def bucket_index(days_overdue: int, limits: Sequence[int]) -> int:
    """Return the bucket of an item ``days_overdue`` days past its due date:
    0 for current (not yet overdue), then 1 for the first range, and
    ``len(limits) + 1`` beyond the last limit."""
    if days_overdue <= 0:
        return 0
    for index, limit in enumerate(limits, start=1):
        if days_overdue <= limit:
            return index
    return len(limits) + 1


def bucket_ranges(limits: Sequence[int]) -> list[tuple[int | None, int | None]]:
    """Return the ``(first day, last day)`` of each overdue bucket, in days
    overdue, with None for an open end; the current bucket is left out."""
    ranges = []
    start = 1
    for limit in limits:
        ranges.append((start, limit))
        start = limit + 1
    ranges.append((start, None))
    return ranges
