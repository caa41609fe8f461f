"""Amounts in Chinese capital numerals (大写金额) by the bank writing rules.

Rules followed (from the People's Bank rules for filling in bills):

* only 零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整, never 一二三, 两, 毛, 另 or digits;
* 拾 always carries its digit, also at the start (10 → 壹拾元整);
* a zero, or a run of zeros, inside the number is written as one 零;
* 整 follows 元; after 角 it is optional (off by default); never after 分;
* 角 is 0 and 分 is not: 零 after 元 is required (1.01 → 壹元零壹分);
* the 万 (or 亿) or 元 digit is 0 and the next digit (千 or 角) is not: the 零 is
  optional (107000.53 → 壹拾万零柒仟元伍角叁分 or 壹拾万柒仟元伍角叁分), but only
  where the unit itself is written: when the whole 万 group is 0 the 零 stays
  (100005000 → 壹亿零伍仟元整, never 壹亿伍仟元整, which reads like 1.5亿);
* below one yuan only 角 and 分 are written (0.50 → 伍角).
"""

from . import DomainError

PREFIX = "人民币"
MAX_FEN = 10**14 - 1
"""The largest amount written: 999,999,999,999.99 yuan (up to 仟亿)."""

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("", "拾", "佰", "仟")
_GROUP_UNITS = {4: "万", 8: "亿"}


class CapitalsError(DomainError):
    """An amount cannot be written in capital numerals."""


def amount_in_words(
    fen: int,
    *,
    optional_zero: bool = True,
    zheng_after_jiao: bool = False,
) -> str:
    """Write an amount in fen as "人民币壹万贰仟元整"-style capital numerals.

    ``optional_zero`` (default True): write 零 where the bank rules leave it free,
    i.e. when the 万/亿 digit or the 元 digit is 0 and the next digit (千 or 角) is
    not, so 1680.32 → 壹仟陆佰捌拾元零叁角贰分; False gives 壹仟陆佰捌拾元叁角贰分.
    A 零 after a 万 or 亿 that is not written (its group is all zeros) stays.
    ``zheng_after_jiao`` (default False, the bank practice): end an amount whose
    last non-zero digit is 角 with 整 (伍角整). 整 after 元 is always written and
    never after 分. Zero is 人民币零元整.
    """
    if fen < 0 or fen > MAX_FEN:
        raise CapitalsError("amount_out_of_range", "金额超出可写大写的范围")
    yuan, jiao, fen_digit = fen // 100, fen // 10 % 10, fen % 10
    if fen == 0:
        return f"{PREFIX}零元整"
    words = _yuan_in_words(yuan, optional_zero) if yuan else ""
    words += _jiao_fen_in_words(yuan, jiao, fen_digit, optional_zero)
    if fen_digit == 0 and (jiao == 0 or zheng_after_jiao):
        words += "整"
    return PREFIX + words


def _yuan_in_words(yuan: int, optional_zero: bool) -> str:
    """The whole-yuan part, ending in 元, for a positive number of yuan."""
    digits = [int(d) for d in reversed(str(yuan))]
    words: list[str] = []
    zero_pending = False
    for position in range(len(digits) - 1, -1, -1):
        digit = digits[position]
        if digit:
            words.append(("零" if zero_pending else "") + _DIGITS[digit])
            words.append(_SMALL_UNITS[position % 4])
            zero_pending = False
        else:
            zero_pending = True
        if position in _GROUP_UNITS and any(digits[position : position + 4]):
            words.append(_GROUP_UNITS[position])
            if not optional_zero and digits[position - 1]:
                zero_pending = False
    return "".join(words) + "元"


def _jiao_fen_in_words(yuan: int, jiao: int, fen: int, optional_zero: bool) -> str:
    """The 角 and 分 part, with the 零 that follows 元 when the rules ask for it."""
    words = ""
    if jiao:
        if yuan and yuan % 10 == 0 and optional_zero:
            words += "零"
        words += _DIGITS[jiao] + "角"
    elif fen and yuan:
        words += "零"
    if fen:
        words += _DIGITS[fen] + "分"
    return words
