"""Calendar arithmetic: the one place the platform adds, counts and lists months.

A month is a calendar month. Adding months keeps the day of the month and clamps it to the end
of a shorter month, as a person counting on a calendar does: 31 January plus one month is the
28th (29th) of February, 31 March less one month the same. The first of a month stays the
first, so the monthly reports, which work with the first of each month, get the first of
another month.
"""

from __future__ import annotations

import calendar
from datetime import date


def first_of(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def last_of(day: date) -> date:
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months (fewer when negative), the day of the month
    kept, or the last day of a shorter month."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def first_of_next_month(day: date) -> date:
    """The first day of the month after ``day``'s."""
    return add_months(first_of(day), 1)


def month_starts(start: date, end: date) -> list[date]:
    """The first of every month from ``start``'s to ``end``'s, in order (none if ``end`` is
    before ``start``'s month began)."""
    months, month = [], first_of(start)
    while month <= end:
        months.append(month)
        month = add_months(month, 1)
    return months
