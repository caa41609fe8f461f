"""Repayment plans in fen: the worked examples and the invariants of every plan."""

import random
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from agreements.domain.dates import add_months
from agreements.domain.plan import (
    DAY_COUNTS,
    METHOD_NAMES,
    REPAYMENT_METHODS,
    PlanError,
    RepaymentMethod,
    RepaymentPlan,
    build_plan,
    equal_instalment_payment_fen,
)

LOAN_DATE = date(2026, 1, 31)


def plan(method: RepaymentMethod, principal_fen: int, rate: str, months: int) -> RepaymentPlan:
    return build_plan(
        method=method,
        principal_fen=principal_fen,
        annual_rate_percent=Decimal(rate),
        loan_date=LOAN_DATE,
        term_months=months,
    )


def test_equal_instalments_100000_at_6_percent_for_12_months() -> None:
    result = plan("equal_instalments", 10_000_000, "6", 12)
    assert result.regular_payment_fen == 860_664
    first, last = result.instalments[0], result.instalments[-1]
    assert (first.principal_fen, first.interest_fen) == (810_664, 50_000)
    assert first.total_fen == 860_664
    assert first.remaining_fen == 10_000_000 - 810_664
    assert all(i.total_fen == 860_664 for i in result.instalments[:-1])
    assert last.total_fen == 860_669
    assert result.total_interest_fen == 327_973
    assert result.total_fen == 10_327_973


def test_equal_principal_100000_at_6_percent_for_12_months() -> None:
    result = plan("equal_principal", 10_000_000, "6", 12)
    totals = [i.total_fen for i in result.instalments]
    assert totals[0] == 883_333
    assert totals[1] == 879_166
    assert totals[-1] == 837_504
    assert all(i.principal_fen == 833_333 for i in result.instalments[:-1])
    assert result.instalments[-1].principal_fen == 833_337
    assert result.total_interest_fen == 325_000
    assert result.regular_payment_fen is None


def test_equal_instalments_1000000_at_4_9_percent_for_360_months() -> None:
    result = plan("equal_instalments", 100_000_000, "4.9", 360)
    assert result.regular_payment_fen == 530_727
    first = result.instalments[0]
    assert (first.principal_fen, first.interest_fen) == (122_394, 408_333)
    assert len(result.instalments) == 360
    assert result.instalments[-1].due_date == date(2056, 1, 31)
    assert abs(result.instalments[-1].total_fen - 530_727) < 360


def test_lump_sum_120000_at_6_percent_for_6_months() -> None:
    result = plan("lump_sum", 12_000_000, "6", 6)
    (only,) = result.instalments
    assert only.interest_fen == 360_000
    assert only.principal_fen == 12_000_000
    assert only.total_fen == 12_360_000
    assert only.remaining_fen == 0
    assert only.due_date == date(2026, 7, 31)
    assert result.repayment_date == date(2026, 7, 31)


def test_interest_first_pays_interest_monthly_and_principal_at_the_end() -> None:
    result = plan("interest_first", 12_000_000, "6", 6)
    assert [i.interest_fen for i in result.instalments] == [60_000] * 6
    assert [i.principal_fen for i in result.instalments] == [0] * 5 + [12_000_000]
    assert [i.remaining_fen for i in result.instalments] == [12_000_000] * 5 + [0]
    assert result.instalments[-1].total_fen == 12_060_000
    assert result.total_interest_fen == 360_000


def test_monthly_interest_is_rounded_half_up_per_instalment() -> None:
    # Interest a month is balance × 6 % / 12: 4.5 fen → 5 (half-even would give 4),
    # 4.495 fen → 4, 0.25 fen → 0.
    assert plan("interest_first", 900, "6", 2).instalments[0].interest_fen == 5
    assert plan("interest_first", 899, "6", 2).instalments[0].interest_fen == 4
    assert plan("interest_first", 300, "1", 2).instalments[0].interest_fen == 0


@pytest.mark.parametrize(
    ("method", "totals"),
    [
        ("equal_instalments", [33, 33, 34]),
        ("equal_principal", [33, 33, 34]),
        ("interest_first", [0, 0, 100]),
        ("lump_sum", [100]),
    ],
)
def test_zero_rate_means_no_interest_and_the_remainder_on_the_last(
    method: RepaymentMethod, totals: list[int]
) -> None:
    result = plan(method, 100, "0", 3)
    assert [i.total_fen for i in result.instalments] == totals
    assert result.total_interest_fen == 0
    assert result.total_principal_fen == 100


def test_zero_rate_equal_split_puts_the_whole_remainder_last() -> None:
    result = plan("equal_instalments", 200, "0", 3)
    assert [i.principal_fen for i in result.instalments] == [66, 66, 68]
    assert equal_instalment_payment_fen(200, Decimal("0"), 3) == 66


def test_due_dates_follow_the_civil_code_month_rule() -> None:
    result = plan("equal_principal", 10_000_000, "6", 4)
    assert [i.due_date for i in result.instalments] == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
        date(2026, 5, 31),
    ]
    assert [i.seq for i in result.instalments] == [1, 2, 3, 4]


def lump_sum_by_days(day_count: str, rate: str = "10.5") -> int:
    result = build_plan(
        method="lump_sum",
        principal_fen=50_000_000,
        annual_rate_percent=Decimal(rate),
        loan_date=date(2026, 1, 1),
        repayment_date=date(2026, 6, 26),  # 176 days, not whole months
        day_count=day_count,  # type: ignore[arg-type]
    )
    return result.total_interest_fen


def test_lump_sum_over_days_uses_the_day_count() -> None:
    assert lump_sum_by_days("actual/365") == 2_531_507
    assert lump_sum_by_days("actual/360") == 2_566_667
    assert lump_sum_by_days("30/360") == 2_552_083  # 175 days of 30/360
    assert lump_sum_by_days("actual/365", "0") == 0


def test_actual_365_is_the_default_day_count() -> None:
    result = build_plan(
        method="lump_sum",
        principal_fen=50_000_000,
        annual_rate_percent=Decimal("10.5"),
        loan_date=date(2026, 1, 1),
        repayment_date=date(2026, 6, 26),
    )
    assert result.day_count == "actual/365"
    assert result.total_interest_fen == 2_531_507


def test_lump_sum_to_a_date_whole_months_away_uses_months() -> None:
    result = build_plan(
        method="lump_sum",
        principal_fen=12_000_000,
        annual_rate_percent=Decimal("6"),
        loan_date=date(2026, 1, 31),
        repayment_date=date(2026, 2, 28),  # one month by the civil-code rule
    )
    assert result.total_interest_fen == 60_000


def test_repayment_date_whole_months_away_gives_monthly_plan() -> None:
    result = build_plan(
        method="equal_instalments",
        principal_fen=10_000_000,
        annual_rate_percent=Decimal("6"),
        loan_date=date(2026, 3, 15),
        repayment_date=date(2027, 3, 15),
    )
    assert len(result.instalments) == 12
    assert result.total_interest_fen == 327_973


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"principal_fen": 0}, "principal_not_positive"),
        ({"principal_fen": -100}, "principal_not_positive"),
        ({"annual_rate_percent": Decimal("-1")}, "rate_invalid"),
        ({"annual_rate_percent": Decimal("NaN")}, "rate_invalid"),
        ({"method": "balloon"}, "repayment_method_unknown"),
        ({"day_count": "actual/366"}, "day_count_unknown"),
        ({"term_months": None}, "term_missing"),
        ({"term_months": 0}, "term_invalid"),
        ({"term_months": 1201}, "term_invalid"),
        ({"repayment_date": date(2026, 5, 1)}, "term_mismatch"),
        (
            {"term_months": None, "repayment_date": date(2026, 1, 31)},
            "repayment_date_not_after_loan",
        ),
        (
            {"term_months": None, "repayment_date": date(2026, 1, 1)},
            "repayment_date_not_after_loan",
        ),
        (
            {"term_months": None, "repayment_date": date(2026, 3, 15)},
            "term_not_whole_months",
        ),
    ],
)
def test_invalid_terms_are_refused_with_a_code(overrides: dict[str, object], code: str) -> None:
    arguments: dict[str, object] = {
        "method": "equal_principal",
        "principal_fen": 10_000,
        "annual_rate_percent": Decimal("6"),
        "loan_date": LOAN_DATE,
        "term_months": 3,
    }
    arguments.update(overrides)
    with pytest.raises(PlanError) as refused:
        build_plan(**arguments)  # type: ignore[arg-type]
    assert refused.value.code == code
    assert refused.value.message


def test_matching_repayment_date_and_term_are_accepted() -> None:
    result = build_plan(
        method="lump_sum",
        principal_fen=10_000,
        annual_rate_percent=Decimal("6"),
        loan_date=LOAN_DATE,
        term_months=1,
        repayment_date=date(2026, 2, 28),
    )
    assert result.repayment_date == date(2026, 2, 28)


def test_every_method_has_a_chinese_name() -> None:
    assert set(METHOD_NAMES) == set(REPAYMENT_METHODS)
    assert METHOD_NAMES["equal_instalments"] == "等额本息"
    assert "actual/365" in DAY_COUNTS


def _check_invariants(result: RepaymentPlan, principal: int, rate: Decimal) -> None:
    instalments = result.instalments
    assert result.total_principal_fen == principal
    assert instalments[-1].remaining_fen == 0
    remaining = principal
    for instalment in instalments:
        assert instalment.principal_fen >= 0
        assert instalment.interest_fen >= 0
        assert instalment.total_fen == instalment.principal_fen + instalment.interest_fen
        remaining -= instalment.principal_fen
        assert instalment.remaining_fen == remaining
    assert result.total_fen == principal + result.total_interest_fen
    if rate == 0:
        assert result.total_interest_fen == 0


@pytest.mark.parametrize("method", REPAYMENT_METHODS)
def test_random_plans_keep_their_invariants(method: RepaymentMethod) -> None:
    rng = random.Random(f"plan-{method}")
    for _ in range(300):
        principal = rng.choice([1, 7, 99, rng.randint(1, 10**10)])
        rate = Decimal(rng.randint(0, 2400)) / 100
        months = rng.randint(1, 60)
        loan_date = rng.choice([date(2026, 1, 1), date(2026, 1, 31), date(2024, 2, 29)])
        result = build_plan(
            method=method,
            principal_fen=principal,
            annual_rate_percent=rate,
            loan_date=loan_date,
            term_months=months,
        )
        _check_invariants(result, principal, rate)
        assert result.repayment_date == add_months(loan_date, months)
        if method != "lump_sum":
            _check_monthly(result, principal, rate, months)


def _check_monthly(result: RepaymentPlan, principal: int, rate: Decimal, months: int) -> None:
    assert len(result.instalments) == months
    for instalment in result.instalments:
        outstanding = instalment.remaining_fen + instalment.principal_fen
        exact = Decimal(outstanding) * rate / 1200
        assert instalment.interest_fen == int(exact.quantize(Decimal(1), ROUND_HALF_UP))
    for instalment in result.instalments[:-1]:
        if result.method == "equal_principal":
            assert instalment.principal_fen == principal // months
        elif result.method == "equal_instalments" and instalment.remaining_fen:
            assert instalment.total_fen == result.regular_payment_fen
