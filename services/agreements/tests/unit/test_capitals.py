"""Capital numerals by the bank writing rules, including known library bugs."""

import random
import re

import pytest
from agreements.domain.capitals import MAX_FEN, CapitalsError, amount_in_words

ALLOWED = set("人民币零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")
DIGITS = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
SMALL_UNITS = {"拾": 10, "佰": 100, "仟": 1000}
GROUP_UNITS = {"万": 10**4, "亿": 10**8}


def words_to_fen(words: str) -> int:
    """Read capital numerals back into fen (written independently of the code)."""
    assert words.startswith("人民币")
    body = words.removeprefix("人民币").removesuffix("整")
    whole, has_yuan, rest = body.partition("元")
    if not has_yuan:
        whole, rest = "", body
    fraction = re.fullmatch(r"零?(?:(\w)角)?零?(?:(\w)分)?", rest)
    assert fraction is not None, words
    jiao, fen = (DIGITS[g] if g else 0 for g in fraction.groups())
    return _integer(whole) * 100 + jiao * 10 + fen


def _integer(text: str) -> int:
    total = section = digit = 0
    for char in text:
        if char in DIGITS:
            digit = DIGITS[char]
        elif char in SMALL_UNITS:
            section += digit * SMALL_UNITS[char]
            digit = 0
        else:
            total += (section + digit) * GROUP_UNITS[char]
            section = digit = 0
    return total + section + digit


def expected_zero_count(fen: int, optional_zero: bool) -> int:
    """How many 零 the rules ask for, counted from the digit string."""
    yuan, jiao, fen_digit = fen // 100, fen // 10 % 10, fen % 10
    digits = str(yuan) if yuan else ""
    count = 0
    for run in re.finditer(r"0+(?=[1-9])", digits):
        last_zero = len(digits) - run.end()
        first_zero = len(digits) - run.start() - 1
        unit_written = last_zero in (4, 8) and first_zero < last_zero + 3
        if optional_zero or not unit_written:
            count += 1
    if yuan and jiao == 0 and fen_digit:
        count += 1
    if yuan and yuan % 10 == 0 and jiao and optional_zero:
        count += 1
    return count


@pytest.mark.parametrize(
    ("fen", "words"),
    [
        (140_950, "壹仟肆佰零玖元伍角"),
        (600_714, "陆仟零柒元壹角肆分"),
        (1_640_902, "壹万陆仟肆佰零玖元零贰分"),
        (32_504, "叁佰贰拾伍元零肆分"),
        (1_100, "壹拾壹元整"),
        (10_000_000, "壹拾万元整"),
        (101, "壹元零壹分"),
        (5, "伍分"),
        (50, "伍角"),
        (1_000, "壹拾元整"),
        (1_200_000, "壹万贰仟元整"),
    ],
)
def test_examples_from_the_rules(fen: int, words: str) -> None:
    assert amount_in_words(fen) == "人民币" + words
    assert amount_in_words(fen, optional_zero=False) == "人民币" + words


def test_optional_zero_is_written_by_default() -> None:
    assert amount_in_words(168_032) == "人民币壹仟陆佰捌拾元零叁角贰分"
    assert amount_in_words(10_700_053) == "人民币壹拾万零柒仟元零伍角叁分"
    assert amount_in_words(100_050) == "人民币壹仟元零伍角"


def test_optional_zero_can_be_left_out() -> None:
    assert amount_in_words(168_032, optional_zero=False) == "人民币壹仟陆佰捌拾元叁角贰分"
    assert amount_in_words(10_700_053, optional_zero=False) == "人民币壹拾万柒仟元伍角叁分"
    assert amount_in_words(100_700_000, optional_zero=False) == "人民币壹佰万柒仟元整"
    assert amount_in_words(105_000_000_000, optional_zero=False) == "人民币壹拾亿伍仟万元整"
    assert amount_in_words(105_000_000_000) == "人民币壹拾亿零伍仟万元整"


def test_zero_stays_when_a_whole_wan_group_is_zero() -> None:
    # No 万 is written to separate 亿 from 伍仟, so the 零 is not optional here:
    # 壹亿伍仟元 would read like 1.5亿.
    assert amount_in_words(10_000_500_000, optional_zero=False) == "人民币壹亿零伍仟元整"


def test_required_zeros_stay_when_optional_zero_is_off() -> None:
    # A zero run not ending at the 万 or 元 digit, and 角 = 0 before 分: always 零.
    assert amount_in_words(100_070_000, optional_zero=False) == "人民币壹佰万零柒佰元整"
    assert amount_in_words(100_100, optional_zero=False) == "人民币壹仟零壹元整"
    assert amount_in_words(1_005, optional_zero=False) == "人民币壹拾元零伍分"
    assert amount_in_words(101, optional_zero=False) == "人民币壹元零壹分"


def test_zheng_after_jiao_is_optional_and_never_after_fen() -> None:
    assert amount_in_words(140_950, zheng_after_jiao=True) == "人民币壹仟肆佰零玖元伍角整"
    assert amount_in_words(50, zheng_after_jiao=True) == "人民币伍角整"
    assert amount_in_words(600_714, zheng_after_jiao=True) == "人民币陆仟零柒元壹角肆分"
    assert amount_in_words(1_100, zheng_after_jiao=True) == "人民币壹拾壹元整"


@pytest.mark.parametrize(
    ("fen", "words"),
    [
        (10_000_000, "壹拾万元整"),  # not 拾万元整 (missing leading 壹)
        (1_000_000_000, "壹仟万元整"),  # not 壹仟万零元整
        (10_000_001, "壹拾万元零壹分"),  # one 零 for the run, not 零零零
        (10_005, "壹佰元零伍分"),  # no 零角 written out
        (100_010_000, "壹佰万零壹佰元整"),  # 万 kept
        (1_010_000_000, "壹仟零壹拾万元整"),
        (10_000_000_000, "壹亿元整"),
        (10_001_000_000, "壹亿零壹万元整"),
        (10_010_000_000, "壹亿零壹拾万元整"),
        (10_000_000_100, "壹亿零壹元整"),
        (1_001_000_000_000, "壹佰亿零壹仟万元整"),
        (11_000_000_000, "壹亿壹仟万元整"),
        (100_000_000_000, "壹拾亿元整"),
        (11_011_000, "壹拾壹万零壹佰壹拾元整"),
        (267, "贰元陆角柒分"),  # 2.67: exact, never a float
        (268, "贰元陆角捌分"),
        (9_999_999_999_999, "玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
        (MAX_FEN, "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ],
)
def test_public_library_bugs_are_absent(fen: int, words: str) -> None:
    assert amount_in_words(fen) == "人民币" + words


def test_zero_is_written_in_full() -> None:
    assert amount_in_words(0) == "人民币零元整"


@pytest.mark.parametrize("fen", [-1, MAX_FEN + 1])
def test_out_of_range_is_refused(fen: int) -> None:
    with pytest.raises(CapitalsError) as refused:
        amount_in_words(fen)
    assert refused.value.code == "amount_out_of_range"


def _random_amounts(count: int) -> list[int]:
    rng = random.Random(20260104)
    amounts = []
    for _ in range(count):
        digits = rng.randint(1, 14)
        # Zero-heavy digit strings reach the interesting 零 cases.
        text = "".join(rng.choice("0000123456789") for _ in range(digits))
        amounts.append(max(1, int(text)))
    return amounts


@pytest.mark.parametrize("optional_zero", [True, False])
def test_capitals_read_back_to_the_same_amount(optional_zero: bool) -> None:
    for fen in _random_amounts(3000):
        words = amount_in_words(fen, optional_zero=optional_zero)
        assert words_to_fen(words) == fen, words
        assert set(words) <= ALLOWED, words
        assert words.count("零") == expected_zero_count(fen, optional_zero), words
        _assert_well_formed(fen, words)


def _assert_well_formed(fen: int, words: str) -> None:
    body = words.removeprefix("人民币")
    assert body[0] in "壹贰叁肆伍陆柒捌玖", words
    assert "零零" not in body, words
    for unit in "拾佰仟万亿元角分整":
        assert "零" + unit not in body, words
    for unit in "拾佰仟":
        for found in re.finditer(unit, body):
            assert body[found.start() - 1] in "壹贰叁肆伍陆柒捌玖", words
    assert body.endswith("整") == (fen % 100 == 0), words
    assert ("元" in body) == (fen >= 100), words
