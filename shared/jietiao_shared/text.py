"""Which characters a person's free text may hold: those every signed IOU can print.

Names, the purpose, notes and reasons end up in a sealed PDF. A character the
document font cannot draw would fail that render after the IOU (or its voiding)
was agreed, so it is refused when typed, naming the character. The set below is
the part of the CJK font the documents service ships (WenQuanYi Micro Hei) that a
person would type: ASCII and Latin letters, the 20,902 ideographs of the CJK
Unified block up to U+9FA5, Chinese punctuation and full-width forms, and a few
symbols. Control and format characters (bidi overrides, zero-width spaces, soft
hyphens) and emoji are never allowed. ``services/documents`` tests that the font
draws every character allowed here.
"""

import unicodedata

ALLOWED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # ASCII
    (0x00A1, 0x00FF),  # Latin-1 (·, ×, é ...)
    (0x0100, 0x017F),  # Latin Extended-A
    (0x2010, 0x2010),
    (0x2013, 0x201E),  # dashes and quotation marks
    (0x2020, 0x2022),
    (0x2025, 0x2027),  # ‥ … ‧
    (0x2030, 0x2030),
    (0x2032, 0x2033),
    (0x203B, 0x203B),  # ※
    (0x2103, 0x2103),  # ℃
    (0x2116, 0x2116),  # №
    (0x2160, 0x216B),  # Roman numerals
    (0x2460, 0x2473),  # ① .. ⑳
    (0x3000, 0x3003),  # ideographic space, 、。〃
    (0x3005, 0x3017),  # 々〆〇 and brackets 〈〉《》「」『』【】〒〓〔〕〖〗
    (0x301D, 0x301F),
    (0x30FB, 0x30FB),  # ・ (names of several ethnic minorities)
    (0x4E00, 0x9FA5),  # CJK Unified Ideographs
    (0xFF01, 0xFF5E),  # full-width forms
)

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def allowed(char: str) -> bool:
    """Whether ``char`` may stand in a name, purpose, note or reason."""
    point = ord(char)
    if unicodedata.category(char) in _REFUSED_CATEGORIES:
        return False
    return any(low <= point <= high for low, high in ALLOWED_RANGES)


def unprintable(text: str) -> list[str]:
    """The distinct characters of ``text`` that may not stand in it, in order."""
    seen: list[str] = []
    for char in text:
        if not allowed(char) and char not in seen:
            seen.append(char)
    return seen


def describe(chars: list[str]) -> str:
    """The refused characters as a person can read them: the glyph, or its code."""
    shown = []
    for char in chars[:5]:
        visible = unicodedata.category(char)[0] not in ("C", "Z")
        shown.append(f"“{char}”" if visible else f"U+{ord(char):04X}")
    return "、".join(shown)
