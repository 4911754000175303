"""Late-payment interest and recovery fees, free of any database access.

Interest accrues day by day on the amount still owed. A period is cut into
segments ``[start, end)`` over which the base, the annual rate and the year of
the day count do not change. Each segment's interest is
``base * rate / 100 * day-count fraction``, and the sum of the segments is
rounded once, to the currency's rounding step.

Day rule: interest accrues from the day after the due date up to and including
the day of payment on the amount paid. A payment lowers the base from the day
after it was paid (see ``payment_change``), so the day of payment still bears
interest on the amount paid that day.
"""

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import NamedTuple

from .payment_plan import round_to_step

DAY_COUNT_ACTUAL_365 = "actual_365"
DAY_COUNT_ACTUAL_360 = "actual_360"
DAY_COUNT_ACTUAL_ACTUAL = "actual_actual"

FEE_FIXED = "fixed"
FEE_PERCENT = "percent"


class RatePeriod(NamedTuple):
    """Annual rate in percent, in force from ``date_from`` to ``date_to``
    (both included).

    ``day_count``, when set, is the convention of the days of this period,
    instead of the one of the computation: days already charged keep the
    convention they were charged with.
    """

    date_from: date
    date_to: date
    rate: Decimal
    day_count: str | None = None


class BaseChange(NamedTuple):
    """Change of the amount bearing interest from ``date`` on (that day
    included): an opened dispute, or a payment from the day after it (see
    ``payment_change``), is negative."""

    date: date
    amount: Decimal


def payment_change(paid_on: date, amount: Decimal) -> BaseChange:
    """Return the base change of ``amount`` paid on ``paid_on``: the amount
    paid stops bearing interest on the day after the payment."""
    return BaseChange(paid_on + timedelta(days=1), -amount)


class InterestSegment(NamedTuple):
    start: date
    end: date
    base: Decimal
    rate: Decimal
    days: int
    fraction: Decimal
    interest: Decimal


class InterestResult(NamedTuple):
    """Interest of a period and how far it could be computed.

    ``charged_to`` is the last day charged, or None when no day could be.
    ``missing_from`` is the first day without a rate, or None when every day
    of the period has one. The days from ``missing_from`` on are not charged.
    """

    segments: tuple[InterestSegment, ...]
    amount: Decimal
    charged_to: date | None
    missing_from: date | None


def year_fraction(start: date, end: date, day_count: str) -> Decimal:
    """Return the fraction of a year from ``start`` to ``end`` (excluded).

    Actual/actual divides the days of each calendar year by that year's
    length, 365 or 366 days.
    """
    days = (end - start).days
    if days <= 0:
        return Decimal(0)
    if day_count == DAY_COUNT_ACTUAL_365:
        return Decimal(days) / Decimal(365)
    if day_count == DAY_COUNT_ACTUAL_360:
        return Decimal(days) / Decimal(360)
    if day_count != DAY_COUNT_ACTUAL_ACTUAL:
        raise ValueError(f"unknown day count convention {day_count!r}")
    fraction = Decimal(0)
    cursor = start
    while cursor < end:
        next_year = date(cursor.year + 1, 1, 1)
        stop = min(end, next_year)
        year_days = (next_year - date(cursor.year, 1, 1)).days
        fraction += Decimal((stop - cursor).days) / Decimal(year_days)
        cursor = stop
    return fraction


def find_table_problems(
    periods: Iterable[RatePeriod],
) -> list[tuple[str, RatePeriod, RatePeriod | None]]:
    """Return the problems of a rate table as ``(kind, period, other)``.

    Kinds: ``"negative"`` for a negative rate, ``"dates"`` for a period
    ending before it starts, ``"overlap"`` and ``"gap"`` between a period and
    the next one by start date.
    """
    ordered = sorted(periods, key=lambda period: (period.date_from, period.date_to))
    problems = []
    for period in ordered:
        if period.rate < 0:
            problems.append(("negative", period, None))
        if period.date_to < period.date_from:
            problems.append(("dates", period, None))
    for period, following in pairwise(ordered):
        if following.date_from <= period.date_to:
            problems.append(("overlap", period, following))
        elif following.date_from > period.date_to + timedelta(days=1):
            problems.append(("gap", period, following))
    return problems


def clip_rate_periods(
    rates: Sequence[RatePeriod], first_day: date, last_day: date, day_count: str
) -> list[RatePeriod]:
    """Return the parts of ``rates`` from ``first_day`` to ``last_day``, both
    included, with their day count set to ``day_count``: the pricing of days
    charged, kept so that a later charge does not price them again."""
    return [
        RatePeriod(
            max(period.date_from, first_day),
            min(period.date_to, last_day),
            period.rate,
            day_count,
        )
        for period in rates
        if period.date_from <= last_day and period.date_to >= first_day
    ]


def _cut_dates(
    start: date,
    end: date,
    base_changes: Sequence[BaseChange],
    rates: Sequence[RatePeriod],
    excluded: Sequence[tuple[date, date]],
    day_count: str,
) -> list[date]:
    cuts = {start, end}
    cuts.update(change.date for change in base_changes)
    for period in rates:
        cuts.add(period.date_from)
        if period.date_to < end:
            cuts.add(period.date_to + timedelta(days=1))
    for excluded_start, excluded_end in excluded:
        cuts.update((excluded_start, excluded_end))
    day_counts = {day_count} | {period.day_count for period in rates}
    if DAY_COUNT_ACTUAL_ACTUAL in day_counts:
        cuts.update(date(year, 1, 1) for year in range(start.year + 1, end.year + 1))
    return sorted(cut for cut in cuts if start <= cut <= end)


def _period_on(rates: Sequence[RatePeriod], day: date) -> RatePeriod | None:
    """Return the first of ``rates`` in force on ``day``, or None."""
    for period in rates:
        if period.date_from <= day <= period.date_to:
            return period
    return None


def compute_interest(
    start: date,
    last_day: date,
    initial_base: Decimal,
    base_changes: Sequence[BaseChange],
    rates: Sequence[RatePeriod],
    day_count: str,
    rounding: Decimal,
    excluded: Sequence[tuple[date, date]] = (),
) -> InterestResult:
    """Compute the interest from ``start`` to ``last_day``, both included.

    ``initial_base`` is the amount bearing interest before any of the
    ``base_changes``, which may be dated before ``start``. No interest accrues
    on the days of the ``excluded`` ranges ``[start, end)``, such as those of
    an active payment plan. When periods of ``rates`` overlap, the first one
    listed prices the day. The computation stops at the first day without a
    rate, so that a later charge takes it up once the rate is known.
    """
    end = last_day + timedelta(days=1)
    if end <= start:
        return InterestResult((), Decimal(0), None, None)
    changes = sorted(base_changes, key=lambda change: change.date)
    cuts = _cut_dates(start, end, changes, rates, excluded, day_count)
    segments = []
    charged_to = None
    missing_from = None
    for segment_start, segment_end in pairwise(cuts):
        base = initial_base + sum(
            (change.amount for change in changes if change.date <= segment_start),
            Decimal(0),
        )
        period = _period_on(rates, segment_start)
        if period is None:
            missing_from = segment_start
            break
        charged_to = segment_end - timedelta(days=1)
        is_excluded = any(
            excluded_start <= segment_start < excluded_end
            for excluded_start, excluded_end in excluded
        )
        if is_excluded or base <= 0:
            continue
        fraction = year_fraction(
            segment_start, segment_end, period.day_count or day_count
        )
        segments.append(
            InterestSegment(
                start=segment_start,
                end=segment_end,
                base=base,
                rate=period.rate,
                days=(segment_end - segment_start).days,
                fraction=fraction,
                interest=base * period.rate / Decimal(100) * fraction,
            )
        )
    total = sum((segment.interest for segment in segments), Decimal(0))
    return InterestResult(
        tuple(segments), round_to_step(total, rounding), charged_to, missing_from
    )


def compute_fee(
    overdue_amount: Decimal,
    fee_type: str,
    fixed_amount: Decimal,
    percent: Decimal,
    minimum: Decimal,
    maximum: Decimal,
    rounding: Decimal,
) -> Decimal:
    """Return a recovery fee: a fixed amount, or a percentage of the overdue
    amount kept between ``minimum`` and ``maximum``. A zero maximum sets no
    upper bound."""
    if fee_type == FEE_FIXED:
        return round_to_step(fixed_amount, rounding)
    if fee_type != FEE_PERCENT:
        raise ValueError(f"unknown fee type {fee_type!r}")
    if maximum and minimum > maximum:
        raise ValueError(f"minimum {minimum} is above maximum {maximum}")
    fee = overdue_amount * percent / Decimal(100)
    fee = max(fee, minimum)
    if maximum:
        fee = min(fee, maximum)
    return round_to_step(fee, rounding)
