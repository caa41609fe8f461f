"""Reminder times are in China Standard Time, whatever the server's zone."""

from datetime import UTC, date, datetime, time, timedelta

from notify.reminders import due_at


def test_a_reminder_is_due_at_nine_in_shanghai() -> None:
    due = due_at(date(2027, 1, 4), time(9, 0))

    assert due.utcoffset() == timedelta(hours=8)
    assert due.astimezone(UTC) == datetime(2027, 1, 4, 1, 0, tzinfo=UTC)
    assert due.isoformat() == "2027-01-04T09:00:00+08:00"


def test_an_early_local_time_falls_on_the_previous_utc_day() -> None:
    due = due_at(date(2027, 3, 1), time(7, 30))

    assert due.astimezone(UTC) == datetime(2027, 2, 28, 23, 30, tzinfo=UTC)
