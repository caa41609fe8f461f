"""Overdue interest: which rate, the 4x LPR cap, the day count, rounding to the fen."""

from datetime import date
from decimal import Decimal

import pytest
from agreements.domain import lpr
from agreements.domain.overdue import OverdueError, overdue_interest

TABLE = lpr.load_lpr_table()
LOAN = date(2024, 1, 10)  # LPR 3.45 % in force, cap 13.80 %


def test_the_agreed_overdue_rate_applies_by_the_chosen_day_count() -> None:
    # DOMAIN.md: 500,000 at 10.5 % for 176 days: 25,666.67 by /360, 25,315.07 by /365.
    due = date(2024, 7, 10)
    paid = date(2025, 1, 2)  # 176 days later, the due date not counted
    by_360 = overdue_interest(
        outstanding_fen=50_000_000,
        due_date=due,
        paid_on=paid,
        loan_date=LOAN,
        lpr_table=TABLE,
        overdue_rate_percent=Decimal("10.5"),
        annual_rate_percent=Decimal("6"),
        day_count="actual/360",
    )
    assert (by_360.days, by_360.interest_fen) == (176, 2_566_667)
    assert by_360.basis == "agreed_overdue_rate" and not by_360.capped
    by_365 = overdue_interest(
        outstanding_fen=50_000_000,
        due_date=due,
        paid_on=paid,
        loan_date=LOAN,
        lpr_table=TABLE,
        overdue_rate_percent=Decimal("10.5"),
    )
    assert by_365.interest_fen == 2_531_507 and by_365.day_count == "actual/365"


def test_without_an_overdue_rate_the_agreed_rate_applies() -> None:
    result = overdue_interest(
        outstanding_fen=1_000_000,
        due_date=date(2024, 6, 1),
        paid_on=date(2024, 6, 11),
        loan_date=LOAN,
        lpr_table=TABLE,
        overdue_rate_percent=Decimal("0"),
        annual_rate_percent=Decimal("7.3"),
    )
    # 10,000.00 × 7.3 % × 10 / 365 = 20.00
    assert result.basis == "agreed_rate" and result.interest_fen == 2000


def test_without_any_rate_the_lpr_on_the_due_date_applies_capped_by_the_lpr_at_the_loan() -> None:
    result = overdue_interest(
        outstanding_fen=3_650_000,
        due_date=date(2025, 6, 1),  # LPR 3.00 % then
        paid_on=date(2025, 6, 2),
        loan_date=LOAN,
        lpr_table=TABLE,
    )
    assert result.basis == "lpr_on_due_date"
    assert result.applied_rate_percent == Decimal("3.00")
    assert result.cap_percent == Decimal("13.80")
    assert result.interest_fen == 300  # 36,500.00 × 3 % / 365 = 3.00


def test_a_rate_above_four_times_the_lpr_at_the_loan_date_is_cut_to_the_cap() -> None:
    result = overdue_interest(
        outstanding_fen=10_000_000,
        due_date=date(2024, 3, 1),
        paid_on=date(2024, 3, 31),
        loan_date=LOAN,
        lpr_table=TABLE,
        overdue_rate_percent=Decimal("24"),
    )
    assert result.capped and result.chosen_rate_percent == Decimal("24")
    assert result.applied_rate_percent == Decimal("13.80")
    # 100,000.00 × 13.8 % × 30 / 365 = 1,134.2465... → 1,134.25
    assert result.interest_fen == 113_425


def test_rounding_is_half_up_to_the_fen() -> None:
    capped = overdue_interest(
        outstanding_fen=1000,
        due_date=date(2019, 9, 1),
        paid_on=date(2019, 9, 2),
        loan_date=date(2019, 8, 20),  # 4.25 % → cap 17 %
        lpr_table=TABLE,
        overdue_rate_percent=Decimal("18.25"),
    )
    # 10.00 × 17 % × 1 / 365 = 0.465... fen → 0
    assert capped.applied_rate_percent == Decimal("17.00") and capped.interest_fen == 0
    # 100.00 × 1.825 % × 1 / 365 = exactly 0.5 fen → 1
    half = overdue_interest(
        outstanding_fen=10_000,
        due_date=date(2024, 1, 10),
        paid_on=date(2024, 1, 11),
        loan_date=LOAN,
        lpr_table=TABLE,
        overdue_rate_percent=Decimal("1.825"),
    )
    assert half.interest_fen == 1  # exactly 0.5 fen rounds up


def test_paid_on_time_or_early_costs_nothing_and_30_360_counts_months_as_30_days() -> None:
    on_time = overdue_interest(
        outstanding_fen=1_000_000,
        due_date=date(2024, 6, 1),
        paid_on=date(2024, 6, 1),
        loan_date=LOAN,
        lpr_table=TABLE,
        annual_rate_percent=Decimal("6"),
    )
    assert on_time.interest_fen == 0 and on_time.days == 0
    thirty = overdue_interest(
        outstanding_fen=3_600_000,
        due_date=date(2024, 1, 31),
        paid_on=date(2024, 3, 1),
        loan_date=LOAN,
        lpr_table=TABLE,
        annual_rate_percent=Decimal("10"),
        day_count="30/360",
    )
    assert thirty.days == 31 and thirty.interest_fen == 31_000


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"outstanding_fen": -1}, "outstanding_negative"),
        ({"due_date": date(2023, 1, 1)}, "due_before_loan"),
        ({"day_count": "actual/366"}, "day_count_unknown"),
        ({"overdue_rate_percent": Decimal("-1")}, "rate_invalid"),
    ],
)
def test_impossible_inputs_are_refused(kwargs: dict[str, object], code: str) -> None:
    args: dict[str, object] = {
        "outstanding_fen": 100,
        "due_date": date(2024, 6, 1),
        "paid_on": date(2024, 7, 1),
        "loan_date": LOAN,
        "lpr_table": TABLE,
    }
    with pytest.raises(OverdueError) as caught:
        overdue_interest(**{**args, **kwargs})  # type: ignore[arg-type]
    assert caught.value.code == code
