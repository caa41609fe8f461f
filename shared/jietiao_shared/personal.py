"""Personal data every service handles the same way: ID numbers, phones, masking.

Resident ID numbers follow GB 11643-1999; mobile numbers are stored in E.164.

This module is the one masking policy: API answers (the other party's data), SMS
texts (names only), operator views (phones) and logs (:func:`redact`, used by the
log formatters as a last line of defence) all mask through the functions here.
"""

import hashlib
import re
from datetime import date

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARACTERS = "10X98765432"
"""Check character for S mod 11 = 0, 1, ..., 10."""

PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37}
    | {41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65}
    | {71, 81, 82, 83}
)
"""First two digits: mainland provinces, Taiwan (71), and the residence permits
for Hong Kong (81), Macao (82) and Taiwan (83) residents."""

EARLIEST_BIRTH_DATE = date(1800, 1, 1)

_FOLD = str.maketrans("０１２３４５６７８９ｘＸ＋－", "0123456789xX+-") | {
    ord(dash): "-" for dash in "‐‑‒–—―−"
}
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_PHONE = re.compile(r"(?:(?:\+|00)86)?(1[0-9]{10})")


class PersonalDataError(ValueError):
    """An ID number or phone number as typed is not valid."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _fold(raw: str) -> str:
    """Fold full-width digits and signs to ASCII and drop all whitespace."""
    return "".join(raw.translate(_FOLD).split())


def id_check_character(first17: str) -> str:
    """The GB 11643 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARACTERS[total % 11]


def normalise_id_number(raw: str, *, today: date | None = None) -> str:
    """Return the 18-character ID number (upper-case X) or raise PersonalDataError."""
    id_number = _fold(raw).upper()
    if len(id_number) != 18:
        raise PersonalDataError("id_number_length", "身份证号码应为18位")
    if not _ID_SHAPE.fullmatch(id_number):
        raise PersonalDataError("id_number_format", "身份证号码前17位应为数字，最后一位为数字或X")
    if int(id_number[:2]) not in PROVINCE_CODES:
        raise PersonalDataError("id_number_region", "身份证号码的地区码无效")
    _check_birth_date(id_number[6:14], today or date.today())
    if id_check_character(id_number[:17]) != id_number[17]:
        raise PersonalDataError("id_number_checksum", "身份证号码校验位不正确")
    return id_number


def _check_birth_date(digits: str, today: date) -> None:
    """Refuse a birth date that does not exist, is in the future or is implausible."""
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        born = None
    if born is None or born < EARLIEST_BIRTH_DATE:
        raise PersonalDataError("id_number_birth_date", "身份证号码中的出生日期无效")
    if born > today:
        raise PersonalDataError("id_number_birth_date", "身份证号码中的出生日期晚于今天")


def is_valid_id_number(raw: str, *, today: date | None = None) -> bool:
    """Whether a typed resident ID number is valid."""
    try:
        normalise_id_number(raw, today=today)
    except PersonalDataError:
        return False
    return True


def normalise_phone(raw: str) -> str:
    """Return a mainland mobile number in E.164 ("+8613812345678") or raise."""
    match = _PHONE.fullmatch(_fold(raw).replace("-", ""))
    if match is None:
        raise PersonalDataError("phone_format", "请输入有效的中国大陆手机号码")
    return "+86" + match.group(1)


def mask_phone(phone: str) -> str:
    """Mask a mobile number as 138****5678 (national form, first 3 and last 4)."""
    national = phone.removeprefix("+86")
    if len(national) <= 7:
        return "*" * len(national)
    return national[:3] + "*" * (len(national) - 7) + national[-4:]


def mask_id_number(id_number: str) -> str:
    """Mask an ID number as 110***********123X (first 3 and last 4 kept)."""
    if len(id_number) <= 7:
        return "*" * len(id_number)
    return id_number[:3] + "*" * (len(id_number) - 7) + id_number[-4:]


def mask_name(name: str) -> str:
    """Mask a name as 张* or 张** (first character kept; a 1-character name is *)."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def id_number_sha256(id_number: str) -> str:
    """The fingerprint of an ID number that identity and agreements compare."""
    return hashlib.sha256(id_number.strip().upper().encode()).hexdigest()


_ID_IN_TEXT = re.compile(r"(?<![0-9])([0-9]{17}[0-9Xx])(?![0-9])")
_PHONE_IN_TEXT = re.compile(r"(?<![0-9])((?:(?:\+|00)?86)?)(1[0-9]{10})(?![0-9])")


def redact(text: str) -> str:
    """Mask anything in free text shaped like a resident ID number or a mobile number.

    Uses :func:`mask_id_number` and :func:`mask_phone`, so a log line shows the same
    masked forms as an API answer (a ``+86``/``86`` prefix is kept as written).
    """
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group(1)), text)
    return _PHONE_IN_TEXT.sub(lambda m: m.group(1) + mask_phone(m.group(2)), text)
