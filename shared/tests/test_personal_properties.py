"""Properties of ID-number validation and masking, over generated inputs."""

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from jietiao_shared import personal

TODAY = date(2026, 1, 1)


def iso7064_mod_11_2(first17: str) -> str:
    """The check character by ISO 7064 MOD 11-2, written independently of the code.

    Weight of the digit at position i (from the left, 0-based) is 2^(17 - i) mod 11;
    the check value c satisfies (sum + c) mod 11 == 1, with 10 written as X.
    """
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


regions = st.sampled_from(sorted(personal.PROVINCE_CODES)).map(lambda p: f"{p:02d}")
births = st.dates(min_value=date(1800, 1, 1), max_value=TODAY).map(lambda d: f"{d:%Y%m%d}")
first17s = st.builds(
    lambda region, rest, born, seq: region + rest + born + seq,
    regions,
    st.text("0123456789", min_size=4, max_size=4),
    births,
    st.text("0123456789", min_size=3, max_size=3),
)


@settings(max_examples=1000)
@given(first17=first17s, last=st.sampled_from("0123456789X"))
def test_the_id_validator_accepts_exactly_what_the_check_digit_algorithm_accepts(
    first17: str, last: str
) -> None:
    accepted = personal.is_valid_id_number(first17 + last, today=TODAY)
    assert accepted == (last == iso7064_mod_11_2(first17))


@settings(max_examples=500)
@given(candidate=st.text("0123456789X", min_size=18, max_size=18))
def test_no_id_with_a_wrong_check_character_is_ever_accepted(candidate: str) -> None:
    if personal.is_valid_id_number(candidate, today=TODAY):
        assert candidate[17] == iso7064_mod_11_2(candidate[:17])


@settings(max_examples=300)
@given(first17=first17s)
def test_a_valid_id_is_accepted_however_it_is_typed(first17: str) -> None:
    id_number = first17 + iso7064_mod_11_2(first17)
    typed = " ".join([id_number[:6], id_number[6:14], id_number[14:].lower()])
    assert personal.normalise_id_number(typed, today=TODAY) == id_number


@settings(max_examples=500)
@given(
    national=st.text("0123456789", min_size=10, max_size=10).map(lambda d: "1" + d),
    first17=first17s,
    prefix=st.sampled_from(["", "+86", "86", "0086"]),
    around=st.text(st.characters(codec="utf-8", exclude_characters="0123456789"), max_size=5),
)
def test_redaction_never_leaves_a_whole_phone_or_id_number(
    national: str, first17: str, prefix: str, around: str
) -> None:
    id_number = first17 + iso7064_mod_11_2(first17)
    text = f"{around}{prefix}{national} {around}{id_number}{around}"
    redacted = personal.redact(text)
    assert national not in redacted and id_number not in redacted
    assert personal.mask_phone("+86" + national) in redacted
    assert personal.mask_id_number(id_number) in redacted
