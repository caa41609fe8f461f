"""Civil-code month arithmetic and day counts."""

from datetime import date

import pytest
from agreements.domain.dates import (
    add_months,
    days_30_360,
    days_between,
    monthly_due_dates,
    whole_months_between,
)


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2024, 1, 15), 1, date(2024, 2, 15)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year: last day
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 3, 31), 1, date(2024, 4, 30)),
        (date(2024, 1, 30), 1, date(2024, 2, 29)),
        (date(2024, 1, 29), 1, date(2024, 2, 29)),
        (date(2024, 12, 15), 1, date(2025, 1, 15)),
        (date(2024, 11, 30), 3, date(2025, 2, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2024, 5, 31), 0, date(2024, 5, 31)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2024, 1, 31), -2, date(2023, 11, 30)),
        (date(2026, 1, 31), 360, date(2056, 1, 31)),
    ],
)
def test_add_months(start: date, months: int, end: date) -> None:
    assert add_months(start, months) == end


def test_monthly_due_dates_do_not_drift() -> None:
    # Counted from the loan date each time: 1-31 → 2-28 → 3-31, not 3-28.
    assert monthly_due_dates(date(2023, 1, 31), 4) == [
        date(2023, 2, 28),
        date(2023, 3, 31),
        date(2023, 4, 30),
        date(2023, 5, 31),
    ]
    assert monthly_due_dates(date(2023, 1, 31), 0) == []


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2024, 1, 15), date(2024, 7, 15), 6),
        (date(2024, 1, 31), date(2024, 2, 29), 1),
        (date(2023, 1, 29), date(2023, 2, 28), 1),
        (date(2024, 1, 15), date(2025, 1, 15), 12),
        (date(2024, 1, 15), date(2024, 1, 15), 0),
        (date(2024, 1, 15), date(2024, 7, 16), None),
        (date(2024, 1, 15), date(2024, 7, 14), None),
        (date(2024, 2, 29), date(2024, 3, 31), None),  # 2-29 + 1 month is 3-29
        (date(2024, 7, 15), date(2024, 1, 15), None),
    ],
)
def test_whole_months_between(start: date, end: date, months: int | None) -> None:
    assert whole_months_between(start, end) == months


def test_days_between_does_not_count_the_first_day() -> None:
    assert days_between(date(2024, 1, 1), date(2024, 1, 2)) == 1
    assert days_between(date(2024, 1, 1), date(2025, 1, 1)) == 366
    assert days_between(date(2026, 1, 1), date(2026, 6, 26)) == 176


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (date(2026, 1, 1), date(2026, 6, 26), 175),
        (date(2026, 1, 31), date(2026, 2, 28), 28),
        (date(2026, 1, 31), date(2026, 3, 31), 60),
        (date(2026, 1, 15), date(2027, 1, 15), 360),
        (date(2024, 2, 29), date(2024, 3, 1), 2),
    ],
)
def test_days_30_360(start: date, end: date, days: int) -> None:
    assert days_30_360(start, end) == days
