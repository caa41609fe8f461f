"""The printable-text policy: what a person may type where the signed IOU prints it."""

import pytest
from jietiao_shared import text


@pytest.mark.parametrize(
    "typed",
    [
        "张三",
        "阿依古丽·买买提",
        "Zhang San",
        "装修，买车（二手）。",
        "李 四",
        "ＡＢＣ１２",
        "还款——已结清…",
    ],
)
def test_what_people_write_is_allowed(typed: str) -> None:
    assert text.unprintable(typed) == []


@pytest.mark.parametrize(
    ("typed", "refused"),
    [
        ("李四😀", ["😀"]),  # emoji
        ("𠀀", ["𠀀"]),  # CJK Extension B: outside the document font
        ("王\u200b五", ["\u200b"]),  # zero-width space
        ("买车\u202e", ["\u202e"]),  # bidi override
        ("提醒\x07", ["\x07"]),  # control character
        ("\ufeff张三", ["\ufeff"]),  # byte-order mark
        ("co\u00adop", ["\u00ad"]),  # soft hyphen
        ("ꙮꙮ", ["ꙮ"]),  # each refused character once
    ],
)
def test_what_the_document_cannot_print_is_named(typed: str, refused: list[str]) -> None:
    assert text.unprintable(typed) == refused


def test_invisible_characters_are_described_by_code() -> None:
    assert text.describe(["😀", "\u200b"]) == "“😀”、U+200B"
