"""Personal data every service handles the same way: phones, ID numbers, masking."""

import hashlib
import re
from datetime import date

_FULLWIDTH = str.maketrans("０１２３４５６７８９＋", "0123456789+")
_PHONE = re.compile(r"^(?:(?:\+|00)86)?(1\d{10})$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


class PersonalDataError(ValueError):
    """Input that is not a valid phone number, ID number or name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def normalise_phone(raw: str) -> str:
    """A mainland mobile number in E.164 (``+8613812345678``)."""
    folded = raw.translate(_FULLWIDTH)
    compact = re.sub(r"[\s\-()（）]", "", folded)
    match = _PHONE.match(compact)
    if not match:
        raise PersonalDataError("phone_invalid", "请输入正确的中国大陆手机号")
    return "+86" + match.group(1)


def id_check_character(first17: str) -> str:
    """The GB 11643 MOD 11-2 check character of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def normalise_id_number(raw: str) -> str:
    """A checked 18-character resident ID number, ``x`` folded to ``X``."""
    value = raw.translate(_FULLWIDTH).strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise PersonalDataError("id_number_format", "身份证号应为18位，最后一位可以是X")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise PersonalDataError("id_number_birth_date", "身份证号中的出生日期无效") from None
    if born > date.today() or born.year < 1800:
        raise PersonalDataError("id_number_birth_date", "身份证号中的出生日期无效")
    if id_check_character(value[:17]) != value[17]:
        raise PersonalDataError("id_number_checksum", "身份证号校验位不正确，请核对")
    return value


def mask_phone(phone: str) -> str:
    """``138****5678`` from any stored form of a mobile number."""
    digits = phone[-11:]
    return f"{digits[:3]}****{digits[-4:]}"


def mask_id_number(id_number: str) -> str:
    """``110***********123X``: the first three and last four characters."""
    return id_number[:3] + "*" * (len(id_number) - 7) + id_number[-4:]


def mask_name(name: str) -> str:
    """``张*``: the surname's first character, the rest hidden."""
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


def id_number_sha256(id_number: str) -> str:
    """The fingerprint of an ID number that identity and agreements compare."""
    return hashlib.sha256(id_number.strip().upper().encode()).hexdigest()
