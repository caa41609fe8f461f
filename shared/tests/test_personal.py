"""Resident ID numbers, mobile numbers and masking."""

from datetime import date, timedelta

import pytest
from jietiao_shared.personal import (
    PersonalDataError,
    id_check_character,
    is_valid_id_number,
    mask_id_number,
    mask_name,
    mask_phone,
    normalise_id_number,
    normalise_phone,
)

TODAY = date(2026, 12, 4)
WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]  # GB 11643: W_i = 2^(i-1) mod 11


def with_check(first17: str) -> str:
    """A full ID number with the check character computed here, not by the code."""
    remainder = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11
    return first17 + "10X98765432"[remainder]


def _code(raw: str) -> str:
    with pytest.raises(PersonalDataError) as refused:
        normalise_id_number(raw, today=TODAY)
    assert refused.value.message  # always a Chinese message for the person
    return refused.value.code


def test_weights_in_the_test_match_the_standard() -> None:
    assert WEIGHTS == [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


@pytest.mark.parametrize("id_number", ["11010519491231002X", "440524188001010014"])
def test_the_standards_own_examples_are_valid(id_number: str) -> None:
    assert normalise_id_number(id_number, today=TODAY) == id_number
    assert is_valid_id_number(id_number, today=TODAY)


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("11010519491231002x", "11010519491231002X"),
        (" 110105 19491231 002X ", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
    ],
)
def test_typing_variants_are_normalised(typed: str, normalised: str) -> None:
    assert normalise_id_number(typed, today=TODAY) == normalised


@pytest.mark.parametrize(
    ("id_number", "code"),
    [
        ("110105194912310021", "id_number_checksum"),  # check should be X
        ("110101199003078888", "id_number_checksum"),  # check should be 1
        ("110105194902310026", "id_number_birth_date"),  # 31 February
        ("11010519491231002", "id_number_length"),
        ("11010519491231002XX", "id_number_length"),
        ("", "id_number_length"),
        ("11010519491231X02X", "id_number_format"),
        ("11010519491231002A", "id_number_format"),
        ("11010519491231-02X", "id_number_format"),
    ],
)
def test_invalid_numbers_are_refused_with_a_code(id_number: str, code: str) -> None:
    assert _code(id_number) == code
    assert not is_valid_id_number(id_number, today=TODAY)


def test_every_check_character_is_computed_from_the_weights() -> None:
    seen = set()
    for serial in range(200):
        first17 = f"11010519900101{serial:03d}"
        full = with_check(first17)
        assert id_check_character(first17) == full[17]
        assert normalise_id_number(full, today=TODAY) == full
        for wrong in "0123456789X".replace(full[17], ""):
            assert _code(first17 + wrong) == "id_number_checksum"
        seen.add(full[17])
    assert seen == set("0123456789X")


@pytest.mark.parametrize("province", ["11", "44", "65", "71", "81", "82", "83"])
def test_real_province_and_residence_permit_prefixes_pass(province: str) -> None:
    full = with_check(f"{province}0000199001011234"[:17])
    assert normalise_id_number(full, today=TODAY) == full


@pytest.mark.parametrize("province", ["00", "10", "16", "20", "30", "66", "70", "80", "84", "99"])
def test_implausible_region_prefixes_are_refused(province: str) -> None:
    assert _code(with_check(f"{province}0101199001011234"[:17])) == "id_number_region"


@pytest.mark.parametrize(
    ("birth", "accepted"),
    [
        ("20261204", True),  # born today
        ("20261205", False),  # born tomorrow
        ("20270101", False),
        ("20000229", True),
        ("19000229", False),  # 1900 is no leap year
        ("20001301", False),
        ("20000100", False),
        ("17991231", False),
    ],
)
def test_birth_date_must_be_real_and_not_in_the_future(birth: str, accepted: bool) -> None:
    full = with_check(f"110105{birth}123")
    if accepted:
        assert normalise_id_number(full, today=TODAY) == full
    else:
        assert _code(full) == "id_number_birth_date"


def test_birth_date_is_checked_against_today_by_default() -> None:
    future = date.today() + timedelta(days=2)
    assert not is_valid_id_number(with_check(f"110105{future:%Y%m%d}123"))
    assert is_valid_id_number("11010519491231002X")


@pytest.mark.parametrize(
    "typed",
    [
        "13812345678",
        "+8613812345678",
        "+86 138 1234 5678",
        "008613812345678",
        "0086-138-1234-5678",
        "138-1234-5678",
        "138 1234 5678 ",
        "１３８１２３４５６７８",
        "＋８６１３８１２３４５６７８",
        "138\u30001234\u30005678",
        "138－1234－5678",
        "138–1234–5678",
    ],
)
def test_phone_numbers_are_normalised_to_e164(typed: str) -> None:
    assert normalise_phone(typed) == "+8613812345678"


def test_new_number_ranges_are_not_rejected() -> None:
    assert normalise_phone("19212345678") == "+8619212345678"
    assert normalise_phone("10012345678") == "+8610012345678"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "1381234567",
        "138123456789",
        "23812345678",
        "03812345678",
        "8613812345678",
        "+85213812345678",
        "+86 1381234567",
        "0013812345678",
        "(138)12345678",
        "138abcd5678",
        "\u0661\u0663\u0668\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668",
    ],
)
def test_invalid_phone_numbers_are_refused(typed: str) -> None:
    with pytest.raises(PersonalDataError) as refused:
        normalise_phone(typed)
    assert refused.value.code == "phone_format"
    assert "手机号" in refused.value.message


def test_masks() -> None:
    assert mask_phone("+8613812345678") == "138****5678"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id_number("11010519491231002X") == "110***********002X"
    assert mask_id_number("110101199003071232") == "110***********1232"
    assert mask_name("张三") == "张*"
    assert mask_name("张") == "*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name(" 李四 ") == "李*"
    assert mask_name("") == ""


def test_masks_never_reveal_short_values() -> None:
    assert mask_phone("1234567") == "*******"
    assert mask_id_number("1234") == "****"


def test_error_is_a_value_error_with_code_and_message() -> None:
    with pytest.raises(ValueError) as refused:
        normalise_phone("x")
    assert isinstance(refused.value, PersonalDataError)
    assert refused.value.code == "phone_format"
