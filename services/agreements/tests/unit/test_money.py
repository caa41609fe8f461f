"""Typed yuan amounts to integer fen and back."""

from decimal import Decimal

import pytest
from agreements.domain.money import (
    MoneyError,
    fen_to_yuan,
    format_fen_grouped,
    format_fen_plain,
    parse_yuan,
)

MAX = Decimal("10000000")


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        ("12000", 1_200_000),
        ("12000.5", 1_200_050),
        ("12000.50", 1_200_050),
        ("0.01", 1),
        ("0.29", 29),  # 0.29 * 100 is 28.999... in binary floating point
        ("1.10", 110),
        ("2.68", 268),
        ("  12000.05 ", 1_200_005),
        ("12 000", 1_200_000),
        ("１２０００．５", 1_200_050),
        ("007", 700),
        ("10000000", 1_000_000_000),
        ("10000000.00", 1_000_000_000),
    ],
)
def test_parse_yuan_gives_exact_fen(typed: str, fen: int) -> None:
    assert parse_yuan(typed, max_yuan=MAX) == fen


@pytest.mark.parametrize("typed", ["2.675", "0.001", "1.000", "12000.505"])
def test_more_than_two_decimals_is_refused_not_rounded(typed: str) -> None:
    with pytest.raises(MoneyError) as refused:
        parse_yuan(typed, max_yuan=MAX)
    assert refused.value.code == "amount_too_many_decimals"
    assert "两位小数" in refused.value.message


@pytest.mark.parametrize("typed", ["0", "0.00", "-5", "-0.01", "00.0"])
def test_zero_or_negative_is_refused(typed: str) -> None:
    with pytest.raises(MoneyError) as refused:
        parse_yuan(typed, max_yuan=MAX)
    assert refused.value.code == "amount_not_positive"


@pytest.mark.parametrize("typed", ["10000000.01", "10000001", "9" * 5000])
def test_above_the_configured_max_is_refused(typed: str) -> None:
    with pytest.raises(MoneyError) as refused:
        parse_yuan(typed, max_yuan=MAX)
    assert refused.value.code == "amount_above_max"
    assert "10,000,000.00" in refused.value.message


def test_the_max_is_the_argument_not_a_constant() -> None:
    assert parse_yuan("500", max_yuan=Decimal("500")) == 50_000
    with pytest.raises(MoneyError):
        parse_yuan("500.01", max_yuan=Decimal("500"))


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "abc",
        "1e3",
        "1E3",
        "NaN",
        "nan",
        "Infinity",
        "inf",
        "+5",
        "1,000",
        "12.",
        ".5",
        "1.2.3",
        "0x10",
        "１２三",
        "\u0661\u0662",  # Arabic-Indic digits match \d but are not amounts
        "¥100",
        "100元",
    ],
)
def test_garbage_is_refused(typed: str) -> None:
    with pytest.raises(MoneyError) as refused:
        parse_yuan(typed, max_yuan=MAX)
    assert refused.value.code == "amount_invalid"
    assert refused.value.message


def test_money_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="amount_invalid"):
        parse_yuan("x", max_yuan=MAX)


@pytest.mark.parametrize(
    ("fen", "grouped", "plain"),
    [
        (1_200_000, "12,000.00", "12000.00"),
        (1_200_050, "12,000.50", "12000.50"),
        (1, "0.01", "0.01"),
        (10, "0.10", "0.10"),
        (0, "0.00", "0.00"),
        (123_456_789, "1,234,567.89", "1234567.89"),
        (9_999_999_999_999, "99,999,999,999.99", "99999999999.99"),
    ],
)
def test_format_fen(fen: int, grouped: str, plain: str) -> None:
    assert format_fen_grouped(fen) == grouped
    assert format_fen_plain(fen) == plain


def test_fen_to_yuan_is_exact_decimal() -> None:
    assert fen_to_yuan(268) == Decimal("2.68")
    assert str(fen_to_yuan(100)) == "1.00"


def test_parse_and_format_round_trip() -> None:
    for fen in [1, 9, 10, 99, 100, 101, 123_456, 999_999_999]:
        assert parse_yuan(format_fen_plain(fen), max_yuan=MAX) == fen
