"""Repayment plans (还款计划) in integer fen.

Conventions, printed with the plan so both parties read the same numbers:

* Rates are annual percentages (``Decimal("6")`` is 6 %); the monthly rate of the
  monthly methods is annual / 12.
* Each instalment's interest is rounded half-up to the fen; the last instalment
  settles the exact remaining balance, so it may differ from the others by a few
  fen. Total interest is the sum of the rounded interest of the instalments (not
  the "payment × n − principal" that some calculators publish).
* Lump sum over a whole number of months: principal × annual rate × months / 12.
  Otherwise by the day count: "actual/365" (default), "actual/360" or "30/360"
  (30E/360), with the first day not counted.
* A zero rate means no interest; the principal is split equally with the
  remainder on the last instalment.
* Monthly methods need a whole number of months; instalment k is due k months
  after the loan date (Civil Code art. 202).
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Literal, get_args

from . import DomainError
from .dates import add_months, days_30_360, days_between, whole_months_between

RepaymentMethod = Literal["lump_sum", "interest_first", "equal_instalments", "equal_principal"]
DayCount = Literal["actual/365", "actual/360", "30/360"]

REPAYMENT_METHODS: tuple[RepaymentMethod, ...] = get_args(RepaymentMethod)
DAY_COUNTS: tuple[DayCount, ...] = get_args(DayCount)
METHOD_NAMES: dict[RepaymentMethod, str] = {
    "lump_sum": "一次性还本付息",
    "interest_first": "先息后本",
    "equal_instalments": "等额本息",
    "equal_principal": "等额本金",
}
MAX_TERM_MONTHS = 1200


class PlanError(DomainError):
    """The terms do not give a repayment plan."""


@dataclass(frozen=True)
class Instalment:
    """One payment; ``remaining_fen`` is the principal still owed after it."""

    seq: int
    due_date: date
    principal_fen: int
    interest_fen: int
    total_fen: int
    remaining_fen: int


@dataclass(frozen=True)
class RepaymentPlan:
    """The instalments of a loan and their totals, with the conventions used."""

    method: RepaymentMethod
    day_count: DayCount
    instalments: tuple[Instalment, ...]
    regular_payment_fen: int | None
    """The rounded monthly payment of equal instalments; None for other methods."""

    @property
    def total_principal_fen(self) -> int:
        """Sum of the principal of all instalments (the principal lent)."""
        return sum(i.principal_fen for i in self.instalments)

    @property
    def total_interest_fen(self) -> int:
        """Sum of the rounded interest of all instalments."""
        return sum(i.interest_fen for i in self.instalments)

    @property
    def total_fen(self) -> int:
        """Everything the borrower pays: principal plus interest."""
        return sum(i.total_fen for i in self.instalments)

    @property
    def repayment_date(self) -> date:
        """The due date of the last instalment."""
        return self.instalments[-1].due_date


def build_plan(
    *,
    method: RepaymentMethod,
    principal_fen: int,
    annual_rate_percent: Decimal,
    loan_date: date,
    repayment_date: date | None = None,
    term_months: int | None = None,
    day_count: DayCount = "actual/365",
) -> RepaymentPlan:
    """The repayment plan for a loan; give ``repayment_date`` or ``term_months``."""
    _check_amounts(principal_fen, annual_rate_percent, method, day_count)
    end, months = _period(loan_date, repayment_date, term_months)
    if method == "lump_sum":
        interest = _lump_sum_interest(
            principal_fen, annual_rate_percent, loan_date, end, months, day_count
        )
        instalment = Instalment(1, end, principal_fen, interest, principal_fen + interest, 0)
        return RepaymentPlan(method, day_count, (instalment,), None)
    if months is None:
        raise PlanError("term_not_whole_months", "按月还款的借款期限须为整月")
    return _monthly_plan(method, principal_fen, annual_rate_percent, loan_date, months, day_count)


def _check_amounts(principal_fen: int, rate: Decimal, method: str, day_count: str) -> None:
    """Refuse a non-positive principal, a negative rate or an unknown setting."""
    if principal_fen <= 0:
        raise PlanError("principal_not_positive", "借款金额必须大于零")
    if not rate.is_finite() or rate < 0:
        raise PlanError("rate_invalid", "年利率不能为负数")
    if method not in REPAYMENT_METHODS:
        raise PlanError("repayment_method_unknown", "不支持的还款方式")
    if day_count not in DAY_COUNTS:
        raise PlanError("day_count_unknown", "不支持的计息天数规则")


def _period(
    loan_date: date, repayment_date: date | None, term_months: int | None
) -> tuple[date, int | None]:
    """The repayment date and the whole number of months to it (None if not whole)."""
    if term_months is not None:
        if not 1 <= term_months <= MAX_TERM_MONTHS:
            raise PlanError("term_invalid", f"借款期限应为1至{MAX_TERM_MONTHS}个月")
        end = add_months(loan_date, term_months)
        if repayment_date is not None and repayment_date != end:
            raise PlanError("term_mismatch", "还款日期与借款期限不一致")
        return end, term_months
    if repayment_date is None:
        raise PlanError("term_missing", "请填写还款日期或借款期限")
    if repayment_date <= loan_date:
        raise PlanError("repayment_date_not_after_loan", "还款日期须晚于借款日期")
    if days_between(loan_date, repayment_date) > MAX_TERM_MONTHS * 31:
        raise PlanError("term_invalid", f"借款期限不能超过{MAX_TERM_MONTHS}个月")
    return repayment_date, whole_months_between(loan_date, repayment_date)


def _to_fen(amount: Decimal) -> int:
    """Round an amount in fen half-up to a whole fen."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _monthly_interest_fen(balance_fen: int, rate: Decimal) -> int:
    """A month's interest on a balance, rounded half-up (divide last: exact halves)."""
    return _to_fen(balance_fen * rate / 1200)


def _lump_sum_interest(
    principal_fen: int,
    rate: Decimal,
    loan_date: date,
    end: date,
    months: int | None,
    day_count: DayCount,
) -> int:
    """Interest of a lump-sum loan: by months/12 when whole months, else by days."""
    yearly = principal_fen * rate / 100
    if months is not None:
        return _to_fen(yearly * months / 12)
    if day_count == "30/360":
        return _to_fen(yearly * days_30_360(loan_date, end) / 360)
    year_days = 360 if day_count == "actual/360" else 365
    return _to_fen(yearly * days_between(loan_date, end) / year_days)


def _monthly_plan(
    method: RepaymentMethod,
    principal_fen: int,
    rate: Decimal,
    loan_date: date,
    months: int,
    day_count: DayCount,
) -> RepaymentPlan:
    """A plan with one instalment per month for the monthly methods."""
    payment = None
    if method == "equal_instalments":
        payment = equal_instalment_payment_fen(principal_fen, rate, months)
    remaining = principal_fen
    instalments: list[Instalment] = []
    for seq in range(1, months + 1):
        interest = _monthly_interest_fen(remaining, rate)
        if seq == months:
            principal = remaining
        elif payment is not None:
            principal = min(payment - interest, remaining)
        elif method == "equal_principal":
            principal = principal_fen // months
        else:
            principal = 0
        remaining -= principal
        due = add_months(loan_date, seq)
        instalments.append(
            Instalment(seq, due, principal, interest, principal + interest, remaining)
        )
    return RepaymentPlan(method, day_count, tuple(instalments), payment)


def equal_instalment_payment_fen(
    principal_fen: int, annual_rate_percent: Decimal, months: int
) -> int:
    """The 等额本息 monthly payment P·i·(1+i)^n / ((1+i)^n − 1), rounded half-up.

    With a zero rate it is the principal divided by the months, rounded down (the
    remainder is paid with the last instalment).
    """
    if annual_rate_percent == 0:
        return principal_fen // months
    with localcontext() as context:
        context.prec = 50
        i = annual_rate_percent / 1200
        growth = (1 + i) ** months
        payment = principal_fen * i * growth / (growth - 1)
        return int(payment.quantize(Decimal(1), rounding=ROUND_HALF_UP))


__all__ = [
    "DAY_COUNTS",
    "METHOD_NAMES",
    "REPAYMENT_METHODS",
    "DayCount",
    "Instalment",
    "PlanError",
    "RepaymentMethod",
    "RepaymentPlan",
    "build_plan",
    "equal_instalment_payment_fen",
]
