"""The one-year Loan Prime Rate (LPR) table and the private-lending interest cap.

The court supports agreed interest up to four times the one-year LPR in force when
the loan was made. The LPR is published on the 20th of each month (next working
day on holidays) and holds until the next publication. The table is data the
operator maintains: a CSV file with the columns ``published_on,rate_percent``,
one row per publication (at least every change; appending an unchanged
publication confirms that the rate still holds). The packaged default is
``agreements/data/lpr_1y.csv``; another file can be given by path.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

from . import DomainError
from .dates import add_months

CAP_MULTIPLE = 4
PUBLICATION_DAY = 20
_COLUMNS = ["published_on", "rate_percent"]


class LprError(DomainError):
    """The LPR table is malformed, or has no rate for a date."""


@dataclass(frozen=True)
class LprPublication:
    """One publication of the one-year LPR."""

    published_on: date
    rate_percent: Decimal


class RateInForce(NamedTuple):
    """The one-year LPR in force on a date, and whether the table may be stale.

    ``beyond_last_entry`` is True when a later publication was due on or before the
    date (the 20th of the month after the table's last entry) but the table has
    none, so the last known rate was carried forward.
    """

    rate_percent: Decimal
    published_on: date
    beyond_last_entry: bool


def interest_cap_percent(lpr_percent: Decimal) -> Decimal:
    """The highest annual rate a court supports: four times the one-year LPR."""
    return lpr_percent * CAP_MULTIPLE


@dataclass(frozen=True)
class LprTable:
    """Publications of the one-year LPR, oldest first."""

    publications: tuple[LprPublication, ...]

    def rate_in_force(self, loan_date: date) -> RateInForce:
        """The one-year LPR in force on the loan date."""
        in_force = [p for p in self.publications if p.published_on <= loan_date]
        if not in_force:
            first = self.publications[0].published_on
            raise LprError("lpr_unavailable", f"{first:%Y年%m月%d日}之前没有LPR报价")
        latest = in_force[-1]
        return RateInForce(latest.rate_percent, latest.published_on, loan_date >= self._next_due())

    def cap_in_force(self, loan_date: date) -> Decimal:
        """The interest cap (4x the one-year LPR) for a loan made on the date."""
        return interest_cap_percent(self.rate_in_force(loan_date).rate_percent)

    def _next_due(self) -> date:
        """The date the publication after the last entry was due."""
        last = self.publications[-1].published_on
        return add_months(last.replace(day=PUBLICATION_DAY), 1)


def load_lpr_table(path: str | Path | None = None) -> LprTable:
    """Load the LPR table from a CSV file, or the packaged default when no path."""
    if path is None:
        source = resources.files("agreements").joinpath("data", "lpr_1y.csv")
        text = source.read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return parse_lpr_csv(text)


def parse_lpr_csv(text: str) -> LprTable:
    """Parse LPR CSV text (published_on,rate_percent) into a checked table."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    if not rows or [cell.strip() for cell in rows[0]] != _COLUMNS:
        raise LprError("lpr_table_header", "LPR表的表头应为 published_on,rate_percent")
    publications = tuple(_publication(row, line) for line, row in enumerate(rows[1:], 2))
    if not publications:
        raise LprError("lpr_table_empty", "LPR表没有任何报价")
    dates = [p.published_on for p in publications]
    if any(earlier >= later for earlier, later in pairwise(dates)):
        raise LprError("lpr_table_order", "LPR表的发布日期必须严格递增")
    return LprTable(publications)


def _publication(row: list[str], line: int) -> LprPublication:
    """One checked row of the LPR table."""
    try:
        published_on = date.fromisoformat(row[0].strip())
        rate = Decimal(row[1].strip())
    except (IndexError, ValueError, InvalidOperation):
        raise LprError("lpr_table_row", f"LPR表第{line}行无法解析") from None
    if len(row) != 2 or not rate.is_finite() or not 0 < rate < 100:
        raise LprError("lpr_table_row", f"LPR表第{line}行的利率无效")
    return LprPublication(published_on, rate)
