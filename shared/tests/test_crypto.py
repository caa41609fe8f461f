"""Personal data at rest: authenticated encryption, key rotation, keyed lookups."""

import base64

import pytest
from jietiao_shared.crypto import (
    CryptoError,
    FieldCipher,
    new_data_key,
    new_lookup_key,
    parse_data_keys,
)

LOOKUP = new_lookup_key()


def test_a_value_round_trips_and_names_its_key() -> None:
    cipher = FieldCipher.from_config(new_data_key("k1"), LOOKUP)
    sealed = cipher.encrypt("+8613812345678", context="parties.phone/a/lender")
    assert sealed.startswith("k1:") and "13812345678" not in sealed
    assert cipher.decrypt(sealed, context="parties.phone/a/lender") == "+8613812345678"


def test_the_same_value_encrypts_differently_each_time() -> None:
    cipher = FieldCipher.from_config(new_data_key("k1"), LOOKUP)
    assert cipher.encrypt("11010519491231002X") != cipher.encrypt("11010519491231002X")


def test_data_written_with_an_old_key_still_decrypts_after_a_new_key_is_put_first() -> None:
    old_key = new_data_key("2025")
    old = FieldCipher.from_config(old_key, LOOKUP)
    sealed = old.encrypt("11010519491231002X", context="parties.id_number/x/borrower")

    rotated = FieldCipher.from_config(new_data_key("2026") + "," + old_key, LOOKUP)
    assert rotated.current_kid == "2026" and rotated.kids == ("2026", "2025")
    assert rotated.decrypt(sealed, context="parties.id_number/x/borrower") == "11010519491231002X"
    assert rotated.needs_reencryption(sealed)
    fresh = rotated.encrypt("11010519491231002X", context="parties.id_number/x/borrower")
    assert fresh.startswith("2026:") and not rotated.needs_reencryption(fresh)
    with pytest.raises(CryptoError):
        old.decrypt(fresh, context="parties.id_number/x/borrower")


def test_a_value_moved_to_another_context_or_tampered_with_does_not_decrypt() -> None:
    cipher = FieldCipher.from_config(new_data_key("k1"), LOOKUP)
    sealed = cipher.encrypt("+8613812345678", context="parties.phone/a/lender")
    with pytest.raises(CryptoError):
        cipher.decrypt(sealed, context="parties.phone/b/lender")
    kid, body = sealed.split(":")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[-1] ^= 1
    tampered = kid + ":" + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(CryptoError):
        cipher.decrypt(tampered, context="parties.phone/a/lender")


def test_a_key_id_relabelled_or_unknown_does_not_decrypt() -> None:
    same = base64.b64encode(b"\x01" * 32).decode()
    cipher = FieldCipher.from_config(f"a:{same},b:{same}", LOOKUP)
    sealed = cipher.encrypt("x")
    with pytest.raises(CryptoError):
        cipher.decrypt("b:" + sealed.split(":", 1)[1])
    with pytest.raises(CryptoError):
        cipher.decrypt("zz:" + sealed.split(":", 1)[1])
    with pytest.raises(CryptoError):
        cipher.decrypt("plaintext")


def test_lookup_hashes_are_keyed_stable_and_separated_by_kind() -> None:
    one = FieldCipher.from_config(new_data_key("k1"), LOOKUP)
    rotated = FieldCipher.from_config(new_data_key("k2"), LOOKUP)
    other = FieldCipher.from_config(new_data_key("k1"), new_lookup_key())
    phone = "+8613812345678"
    assert one.lookup_hash(phone, kind="phone") == rotated.lookup_hash(phone, kind="phone")
    assert one.lookup_hash(phone, kind="phone") != other.lookup_hash(phone, kind="phone")
    assert one.lookup_hash(phone, kind="phone") != one.lookup_hash(phone, kind="id_number")
    assert len(one.lookup_hash(phone, kind="phone")) == 64


@pytest.mark.parametrize(
    "config",
    [
        "",
        "nokid",
        "k1:" + base64.b64encode(b"short").decode(),
        "k 1:" + base64.b64encode(b"\x00" * 32).decode(),
        "k1:not*base64",
        "k1:{0},k1:{0}".format(base64.b64encode(b"\x00" * 32).decode()),
    ],
)
def test_bad_data_key_configuration_is_refused(config: str) -> None:
    with pytest.raises(CryptoError):
        parse_data_keys(config)


def test_a_short_or_missing_lookup_key_is_refused() -> None:
    with pytest.raises(CryptoError):
        FieldCipher.from_config(new_data_key("k1"), base64.b64encode(b"\x00" * 16).decode())
    with pytest.raises(CryptoError):
        FieldCipher.from_config(new_data_key("k1"), "")
