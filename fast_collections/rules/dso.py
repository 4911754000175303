"""Days sales outstanding and the collection effectiveness index, free of any
database access.

Days sales outstanding (DSO) uses the countback method: the receivable balance
at a date is matched against the credit sales of the months before it, the
most recent month first, until the balance is used up. The DSO is the days of
the months used up in full plus the share of the last month that the rest of
the balance covers.

The collection effectiveness index (CEI) of a period compares what was
collected with what could have been:

    (beginning receivables + credit sales - ending total receivables)
    / (beginning receivables + credit sales - ending current receivables)
    x 100
"""

import calendar
import datetime
from collections.abc import Sequence

from dateutil.relativedelta import relativedelta


def is_month_end(day: datetime.date) -> bool:
    """Tell whether ``day`` is the last day of its month."""
    return day.day == calendar.monthrange(day.year, day.month)[1]


def months_before(day: datetime.date, months: int) -> datetime.date:
    """Return the date ``months`` months before ``day``.

    From a month end the result is a month end too (31 May, 30 April, 31
    March...), so that periods ending on a month end are calendar months.
    Otherwise the day of the month is kept, or the month's last day when the
    month is shorter.
    """
    result = day - relativedelta(months=months)
    if is_month_end(day):
        result += relativedelta(day=31)
    return result


def period_boundaries(date_to: datetime.date, months: int) -> list[datetime.date]:
    """Return the ``months + 1`` dates that cut the period ending on
    ``date_to`` into months, oldest first.

    Month ``k`` of the period runs from the day after boundary ``k - 1`` to
    boundary ``k``, both included, so the first boundary is the day before the
    period starts.
    """
    if months < 1:
        raise ValueError(f"a period has at least one month, got {months}")
    return [months_before(date_to, back) for back in range(months, -1, -1)]


def trend_dates(date_to: datetime.date, count: int) -> list[datetime.date]:
    """Return the ``count`` month ends up to ``date_to``, oldest first.

    ``date_to`` itself is the last of them, even when it is not a month end.
    """
    if count < 1:
        raise ValueError(f"a trend has at least one date, got {count}")
    month_end = date_to + relativedelta(day=31)
    earlier = [months_before(month_end, back) for back in range(count - 1, 0, -1)]
    return [*earlier, date_to]


def countback_dso(balance: float, months: Sequence[tuple[int, float]]) -> float:
    """Return the days sales outstanding of ``balance`` by the countback method.

    ``months`` contains ``(days, credit_sales)`` for each month of the period,
    the most recent first. Each month whose sales the remaining balance
    exceeds counts in full. The month that uses up the balance counts for
    its days times the remaining balance over its sales.

    Example: a balance of 1,000 at 30 June, with credit sales of 600 in June
    (30 days), 300 in May (31 days) and 500 in April (30 days). June's 600 and
    May's 300 are used up in full (61 days), which leaves 100 of April's 500:
    30 x 100 / 500 = 6 days. The DSO is 67 days.

    A balance of zero or less gives 0. A month with no sales, or with more
    credit notes than invoices, counts in full. A balance larger than all the
    period's sales gives the period's days: the countback cannot look further
    back than the period.
    """
    remaining = balance
    days_counted = 0.0
    for days, sales in months:
        if remaining <= 0:
            break
        if sales > 0 and remaining <= sales:
            return days_counted + days * remaining / sales
        remaining -= max(sales, 0.0)
        days_counted += days
    return days_counted


def collection_effectiveness_index(
    beginning: float, sales: float, ending_total: float, ending_current: float
) -> float | None:
    """Return the collection effectiveness index of a period, in percent.

    ``beginning`` is the receivables at the start of the period, ``sales``
    the credit sales of the period, ``ending_total`` the receivables at its
    end and ``ending_current`` the part of them that is not yet due.

    Example: receivables of 1,000 at the start, 1,400 of credit sales, 900
    owed at the end of which 500 is not yet due. 1,500 was collected out of
    1,900 that could have been: the CEI is 78.95%.

    Returns None when nothing could have been collected, that is when the
    denominator is zero or less.
    """
    collectible = beginning + sales - ending_current
    if collectible <= 0:
        return None
    return 100.0 * (beginning + sales - ending_total) / collectible
