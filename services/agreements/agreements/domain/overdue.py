"""Overdue interest (逾期利息) on an amount paid late, by the private-lending rules.

Which annual rate applies (Supreme People's Court provisions on private lending,
2020 revision, arts. 28-29):

1. the agreed overdue rate, if one was agreed;
2. else the agreed annual rate of the loan, from the due date;
3. else (neither agreed: an interest-free loan between natural persons) the
   one-year LPR in force on the due date ("the LPR then current").

Whatever applies is capped at four times the one-year LPR in force when the
contract was formed (the loan date). The cap also covers penalties and other fees
together with overdue interest; this function computes overdue interest only, so
a caller adding penalties must cap the sum itself.

Days: from the due date to the payment date, the first day not counted (Civil
Code art. 201): paid the day after the due date is one day late. The day count is
"actual/365", "actual/360" or "30/360" (30E/360), as the IOU's terms say. The
interest is computed exactly and rounded once, half-up, to the fen.

An agreed rate of zero counts as "not agreed" here: the IOU form cannot tell "0 %
agreed" from "nothing agreed", and art. 28 gives the same answer for an
interest-free loan with no overdue rate.
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from . import DomainError
from .dates import days_30_360, days_between
from .lpr import LprTable, interest_cap_percent
from .plan import DAY_COUNTS, DayCount

RateBasis = Literal["agreed_overdue_rate", "agreed_rate", "lpr_on_due_date"]


class OverdueError(DomainError):
    """The inputs do not describe a late payment that interest can be computed on."""


@dataclass(frozen=True)
class OverdueInterest:
    """Overdue interest and how it was found, for printing with the amount."""

    interest_fen: int
    days: int
    basis: RateBasis
    applied_rate_percent: Decimal
    """The annual rate actually used (after the cap)."""
    chosen_rate_percent: Decimal
    """The annual rate the rules pick, before the cap."""
    cap_percent: Decimal
    capped: bool
    day_count: DayCount


def overdue_interest(
    *,
    outstanding_fen: int,
    due_date: date,
    paid_on: date,
    loan_date: date,
    lpr_table: LprTable,
    overdue_rate_percent: Decimal | None = None,
    annual_rate_percent: Decimal | None = None,
    day_count: DayCount = "actual/365",
) -> OverdueInterest:
    """Interest on ``outstanding_fen`` paid on ``paid_on`` instead of ``due_date``.

    Rates are annual percentages (``Decimal("6")`` is 6 %); None or zero means not
    agreed. Paid on or before the due date: zero interest, zero days.
    """
    if outstanding_fen < 0:
        raise OverdueError("outstanding_negative", "逾期本金不能为负数")
    if due_date < loan_date:
        raise OverdueError("due_before_loan", "到期日不能早于借款日")
    if day_count not in DAY_COUNTS:
        raise OverdueError("day_count_unknown", "不支持的计息天数规则")
    for rate in (overdue_rate_percent, annual_rate_percent):
        if rate is not None and (not rate.is_finite() or rate < 0):
            raise OverdueError("rate_invalid", "年利率不能为负数")

    cap = interest_cap_percent(lpr_table.rate_in_force(loan_date).rate_percent)
    basis: RateBasis
    if overdue_rate_percent:
        basis, chosen = "agreed_overdue_rate", overdue_rate_percent
    elif annual_rate_percent:
        basis, chosen = "agreed_rate", annual_rate_percent
    else:
        basis, chosen = "lpr_on_due_date", lpr_table.rate_in_force(due_date).rate_percent
    applied = min(chosen, cap)

    days = _days(due_date, paid_on, day_count) if paid_on > due_date else 0
    year_days = 365 if day_count == "actual/365" else 360
    exact = Decimal(outstanding_fen) * applied * days / (100 * year_days)
    interest = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return OverdueInterest(
        interest_fen=interest,
        days=days,
        basis=basis,
        applied_rate_percent=applied,
        chosen_rate_percent=chosen,
        cap_percent=cap,
        capped=chosen > cap,
        day_count=day_count,
    )


def _days(due_date: date, paid_on: date, day_count: DayCount) -> int:
    if day_count == "30/360":
        return days_30_360(due_date, paid_on)
    return days_between(due_date, paid_on)
