"""Calendar rules for IOU periods (Civil Code arts. 201-203).

A period in months ends on the same day of the final month, or on that month's
last day when it has no such day (2024-01-31 plus one month is 2024-02-29). A
period in days does not count its first day. Moving a due date off a legal
holiday (art. 203) needs a holiday calendar and is not done here.
"""

import calendar
from datetime import date


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, or the last day of that month if it has none."""
    month_index = start.year * 12 + start.month - 1 + months
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last_day))


def monthly_due_dates(loan_date: date, instalments: int) -> list[date]:
    """Due dates of monthly instalments, each counted from the loan date itself."""
    return [add_months(loan_date, seq) for seq in range(1, instalments + 1)]


def whole_months_between(start: date, end: date) -> int | None:
    """The number of months n with add_months(start, n) == end, or None if none."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if months >= 0 and add_months(start, months) == end:
        return months
    return None


def days_between(start: date, end: date) -> int:
    """Days in a period from ``start`` to ``end``, the first day not counted."""
    return (end - start).days


def days_30_360(start: date, end: date) -> int:
    """Days between two dates by the 30E/360 convention (every month has 30 days)."""
    start_day, end_day = min(start.day, 30), min(end.day, 30)
    return (end.year - start.year) * 360 + (end.month - start.month) * 30 + (end_day - start_day)
