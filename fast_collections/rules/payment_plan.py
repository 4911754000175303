"""Instalment schedules of payment plans, free of any database access.

Amounts are rounded to the currency's rounding step with Decimal arithmetic,
so that the instalments of a schedule add up to its total to the cent.
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from dateutil.relativedelta import relativedelta

FREQUENCY_STEPS = {
    "weekly": relativedelta(weeks=1),
    "biweekly": relativedelta(weeks=2),
    "monthly": relativedelta(months=1),
    "quarterly": relativedelta(months=3),
}


class Instalment(NamedTuple):
    date: date
    amount: float
    is_down_payment: bool


def instalment_dates(first_date: date, count: int, frequency: str) -> list[date]:
    """Return ``count`` due dates from ``first_date`` on, one per period.

    Each date is counted from the first one, not from the previous one, so a
    monthly plan starting on 31 January falls on the last day of the shorter
    months and on the 31st again afterwards.
    """
    step = FREQUENCY_STEPS[frequency]
    return [first_date + step * index for index in range(count)]


def round_to_step(amount: Decimal, rounding: Decimal) -> Decimal:
    """Round ``amount`` half up to a multiple of ``rounding`` (0.01 for cents)."""
    return (amount / rounding).quantize(Decimal(1), rounding=ROUND_HALF_UP) * rounding


def split_amount(total: float, count: int, rounding: float) -> list[float]:
    """Split ``total`` into ``count`` equal amounts, the rounding difference on
    the last one: 1,000 in 3 gives 333.33, 333.33 and 333.34."""
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    step = Decimal(str(rounding))
    exact_total = round_to_step(Decimal(str(total)), step)
    share = round_to_step(exact_total / count, step)
    amounts = [share] * (count - 1)
    amounts.append(exact_total - share * (count - 1))
    return [float(amount) for amount in amounts]


def build_schedule(
    total: float,
    down_payment: float,
    count: int,
    frequency: str,
    first_date: date,
    down_payment_date: date | None,
    rounding: float,
) -> list[Instalment]:
    """Return the down payment, if any, then ``count`` instalments of the rest.

    The amounts add up to ``total`` exactly, rounded to ``rounding``. The down
    payment falls on ``down_payment_date``, or else on ``first_date``.
    """
    step = Decimal(str(rounding))
    exact_total = round_to_step(Decimal(str(total)), step)
    exact_down_payment = round_to_step(Decimal(str(down_payment or 0.0)), step)
    schedule = []
    if exact_down_payment:
        schedule.append(
            Instalment(down_payment_date or first_date, float(exact_down_payment), True)
        )
    rest = float(exact_total - exact_down_payment)
    dates = instalment_dates(first_date, count, frequency)
    amounts = split_amount(rest, count, rounding)
    schedule.extend(
        Instalment(due_date, amount, False)
        for due_date, amount in zip(dates, amounts, strict=True)
    )
    return schedule


def allocate_paid(amounts: list[float], paid: float, rounding: float) -> list[float]:
    """Spread ``paid`` over instalments of ``amounts`` in order, filling the
    first one before the second, and return the amount paid on each."""
    step = Decimal(str(rounding))
    remaining = round_to_step(Decimal(str(max(paid, 0.0))), step)
    allocated = []
    for amount in amounts:
        due = round_to_step(Decimal(str(amount)), step)
        covered = min(due, remaining)
        allocated.append(float(covered))
        remaining -= covered
    return allocated
