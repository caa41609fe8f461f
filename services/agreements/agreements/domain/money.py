"""Yuan amounts as people type them, held as integer fen (1 yuan = 100 fen).

Amounts go through :class:`~decimal.Decimal`, never ``float``: a typed "2.675" is
refused (more than two decimals), not rounded to 2.67 or 2.68.
"""

import re
from decimal import Decimal

from . import DomainError

FEN_PER_YUAN = 100

_AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
FULL_WIDTH = str.maketrans("０１２３４５６７８９．－％", "0123456789.-%")
"""Full-width digits, point, minus and percent as an IME types them, folded to ASCII."""


class MoneyError(DomainError):
    """A typed amount is not a valid yuan amount."""


def parse_yuan(text: str, *, max_yuan: Decimal) -> int:
    """Parse a typed yuan amount ("12000", "12000.5", "0.01") into fen."""
    sign, whole, decimals = _split_amount(text)
    if len(decimals) > 2:
        raise MoneyError("amount_too_many_decimals", "金额最多保留两位小数")
    amount = Decimal(f"{sign}{whole}.{decimals or '0'}")
    if amount <= 0:
        raise MoneyError("amount_not_positive", "金额必须大于零")
    if amount > max_yuan:
        raise MoneyError("amount_above_max", f"金额不能超过{max_yuan:,.2f}元")
    return int(amount * FEN_PER_YUAN)


def _split_amount(text: str) -> tuple[str, str, str]:
    """Sign, whole yuan digits and decimal digits of a typed amount, or refuse it."""
    cleaned = "".join(text.split()).translate(FULL_WIDTH)
    match = _AMOUNT.fullmatch(cleaned)
    if match is None:
        raise MoneyError("amount_invalid", "请输入有效的金额，例如 12000 或 12000.50")
    return match.group(1), match.group(2), match.group(3) or ""


def fen_to_yuan(fen: int) -> Decimal:
    """The exact yuan value of an amount in fen, with two decimals."""
    return (Decimal(fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))


def format_fen_plain(fen: int) -> str:
    """Format fen as plain yuan with two decimals: 1200000 → "12000.00"."""
    return f"{fen_to_yuan(fen):.2f}"


def format_fen_grouped(fen: int) -> str:
    """Format fen as yuan with thousands separators: 1200000 → "12,000.00"."""
    return f"{fen_to_yuan(fen):,.2f}"
