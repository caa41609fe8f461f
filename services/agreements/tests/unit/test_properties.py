"""Properties of the pure rules, over many generated inputs (hypothesis).

Capital numerals read back to the digits they were written from and use only the
bank characters; every plan repays exactly the principal with no negative part and
interest within a fen of the closed forms; overdue interest is never above the cap.
"""

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from agreements.domain import capitals, dates, lpr, overdue, plan
from hypothesis import given, settings
from hypothesis import strategies as st

ALLOWED = set("人民币零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")
BANNED = set("一二三两毛另0123456789")
DIGITS = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
SMALL_UNITS = {"拾": 10, "佰": 100, "仟": 1000}


def parse_capitals(words: str) -> int:
    """Read capital numerals back into fen (the reverse of amount_in_words)."""
    assert words.startswith(capitals.PREFIX)
    body = words.removeprefix(capitals.PREFIX).removesuffix("整")
    yuan_part, _, small = body.rpartition("元") if "元" in body else ("", "", body)
    total = section = number = 0
    for ch in yuan_part:
        if ch in DIGITS:
            number = DIGITS[ch]
        elif ch in SMALL_UNITS:
            assert number, f"a unit without its digit in {words}"
            section += number * SMALL_UNITS[ch]
            number = 0
        elif ch == "万":
            total += (section + number) * 10**4
            section = number = 0
        elif ch == "亿":
            total = (total + section + number) * 10**8
            section = number = 0
        else:
            raise AssertionError(f"unexpected {ch} in {words}")
    fen = (total + section + number) * 100
    digit = None
    for ch in small:
        if ch in DIGITS:
            digit = DIGITS[ch]
        elif ch in "角分":
            assert digit, f"{ch} without a non-zero digit in {words}"
            fen += digit * (10 if ch == "角" else 1)
            digit = None
        else:
            raise AssertionError(f"unexpected {ch} in {words}")
    assert digit in (None, 0)
    return fen


def _digits_to_int(digits: list[int]) -> int:
    return int("".join(map(str, digits)) or "0")


# Amounts rich in zeros (the cases the rules are about), and anywhere in range.
amounts = st.one_of(
    st.integers(min_value=0, max_value=capitals.MAX_FEN),
    st.lists(st.sampled_from([0, 0, 0, 0, 1, 5, 9]), min_size=1, max_size=14).map(_digits_to_int),
)


@settings(max_examples=800)
@given(fen=amounts, optional_zero=st.booleans(), zheng_after_jiao=st.booleans())
def test_capitals_read_back_to_the_digits(
    fen: int, optional_zero: bool, zheng_after_jiao: bool
) -> None:
    words = capitals.amount_in_words(
        fen, optional_zero=optional_zero, zheng_after_jiao=zheng_after_jiao
    )
    assert parse_capitals(words) == fen


@settings(max_examples=800)
@given(fen=amounts, optional_zero=st.booleans(), zheng_after_jiao=st.booleans())
def test_capitals_use_only_bank_characters_and_the_bank_shapes(
    fen: int, optional_zero: bool, zheng_after_jiao: bool
) -> None:
    words = capitals.amount_in_words(
        fen, optional_zero=optional_zero, zheng_after_jiao=zheng_after_jiao
    )
    assert set(words) <= ALLOWED and not set(words) & BANNED
    body = words.removeprefix(capitals.PREFIX)
    assert "零零" not in body
    if fen:
        assert not body.startswith(("零", "拾", "佰", "仟", "万", "亿", "元"))
        assert "零元" not in body and "零万" not in body and "零亿" not in body
        assert "零角" not in body and "零分" not in body
    ends_at = "分" if fen % 10 else "角" if fen % 100 else "元"
    if ends_at == "分":
        assert body.endswith("分")
    elif ends_at == "角":
        assert body.endswith("角整" if zheng_after_jiao else "角")
    else:
        assert body.endswith("元整")
    if fen >= 100 and fen % 100 and (fen // 10) % 10 == 0:
        assert "元零" in body  # 角 is 0 and 分 is not: the 零 after 元 is required


def _exact_payment(principal: int, rate: Decimal, months: int) -> Decimal:
    with localcontext() as context:
        context.prec = 80
        i = rate / 1200
        growth = (1 + i) ** months
        return principal * i * growth / (growth - 1)


rates = st.decimals(min_value=0, max_value=Decimal("24"), places=2)
principals = st.integers(min_value=1, max_value=10**9)


@settings(max_examples=400, deadline=None)
@given(
    method=st.sampled_from(plan.REPAYMENT_METHODS),
    principal=principals,
    rate=rates,
    months=st.integers(min_value=1, max_value=360),
    loan_date=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
)
def test_every_plan_repays_exactly_the_principal_with_nothing_negative(
    method: plan.RepaymentMethod, principal: int, rate: Decimal, months: int, loan_date: date
) -> None:
    result = plan.build_plan(
        method=method,
        principal_fen=principal,
        annual_rate_percent=rate,
        loan_date=loan_date,
        term_months=months,
    )
    assert result.total_principal_fen == principal
    assert result.instalments[-1].remaining_fen == 0
    balance = principal
    for instalment in result.instalments:
        assert instalment.principal_fen >= 0 and instalment.interest_fen >= 0
        assert instalment.total_fen == instalment.principal_fen + instalment.interest_fen
        if method != "lump_sum":
            # each month's interest is the balance's interest, rounded to the fen
            assert abs(instalment.interest_fen - balance * rate / 1200) <= Decimal("0.5")
        balance -= instalment.principal_fen
        assert instalment.remaining_fen == balance >= 0
    if method == "lump_sum":
        exact = principal * rate / 100 * months / 12
        assert abs(result.total_interest_fen - exact) <= Decimal("0.5")
    if method == "equal_instalments" and rate > 0:
        assert result.regular_payment_fen is not None
        exact_payment = _exact_payment(principal, rate, months)
        assert abs(result.regular_payment_fen - exact_payment) <= Decimal("0.5")
        for instalment in result.instalments[:-1]:
            # the same payment every month while a balance is left (a tiny loan may be
            # paid off early, its later instalments then being zero)
            assert instalment.total_fen <= result.regular_payment_fen
            if instalment.remaining_fen:
                assert instalment.total_fen == result.regular_payment_fen


@settings(max_examples=300, deadline=None)
@given(
    principal=principals,
    rate=rates,
    days=st.integers(min_value=1, max_value=3000),
    day_count=st.sampled_from(plan.DAY_COUNTS),
    loan_date=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)),
)
def test_lump_sum_by_days_is_within_a_fen_of_the_closed_form(
    principal: int, rate: Decimal, days: int, day_count: plan.DayCount, loan_date: date
) -> None:
    end = loan_date + timedelta(days=days)
    result = plan.build_plan(
        method="lump_sum",
        principal_fen=principal,
        annual_rate_percent=rate,
        loan_date=loan_date,
        repayment_date=end,
        day_count=day_count,
    )
    [only] = result.instalments
    assert only.principal_fen == principal and only.interest_fen >= 0
    months = dates.whole_months_between(loan_date, end)
    if months is not None:
        exact = principal * rate / 100 * months / 12
    elif day_count == "30/360":
        exact = principal * rate / 100 * dates.days_30_360(loan_date, end) / 360
    else:
        exact = principal * rate / 100 * days / (360 if day_count == "actual/360" else 365)
    assert abs(only.interest_fen - exact) <= Decimal("0.5")


TABLE = lpr.load_lpr_table()


@settings(max_examples=300, deadline=None)
@given(
    outstanding=principals,
    loan_date=st.dates(min_value=date(2019, 8, 20), max_value=date(2027, 12, 31)),
    due_after=st.integers(min_value=0, max_value=720),
    late=st.integers(min_value=-30, max_value=2000),
    overdue_rate=st.one_of(st.none(), rates.map(lambda r: r * 2)),
    annual_rate=st.one_of(st.none(), rates),
    day_count=st.sampled_from(plan.DAY_COUNTS),
)
def test_overdue_interest_is_capped_rounded_and_zero_when_not_late(
    outstanding: int,
    loan_date: date,
    due_after: int,
    late: int,
    overdue_rate: Decimal | None,
    annual_rate: Decimal | None,
    day_count: plan.DayCount,
) -> None:
    due = loan_date + timedelta(days=due_after)
    paid = due + timedelta(days=late)
    result = overdue.overdue_interest(
        outstanding_fen=outstanding,
        due_date=due,
        paid_on=paid,
        loan_date=loan_date,
        lpr_table=TABLE,
        overdue_rate_percent=overdue_rate,
        annual_rate_percent=annual_rate,
        day_count=day_count,
    )
    cap = TABLE.cap_in_force(loan_date)
    assert result.applied_rate_percent <= cap == result.cap_percent
    if late <= 0:
        assert result.interest_fen == 0 and result.days == 0
        return
    year = 365 if day_count == "actual/365" else 360
    exact = Decimal(outstanding) * result.applied_rate_percent * result.days / (100 * year)
    assert result.interest_fen == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    most = Decimal(outstanding) * cap * result.days / (100 * year)
    assert result.interest_fen <= most + Decimal("0.5")
