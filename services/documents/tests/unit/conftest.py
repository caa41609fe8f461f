import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from documents.render import AuditEntry, SignatureImage, find_font
from PIL import Image, ImageDraw

RENDERED_AT = datetime(2026, 12, 4, 6, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session", autouse=True)
def cjk_font() -> str:
    try:
        return find_font()
    except RuntimeError as missing:
        pytest.skip(str(missing))


def _plan(months: int, principal_fen: int, first_interest_fen: int) -> list[dict]:
    """An equal-principal plan (等额本金): interest on the balance still owed,
    ``first_interest_fen`` for the first month, half-up to the fen."""
    share, rest = divmod(principal_fen, months)
    remaining = principal_fen
    rows = []
    for seq in range(1, months + 1):
        paid = share + (rest if seq == months else 0)
        interest = (2 * first_interest_fen * remaining + principal_fen) // (2 * principal_fen)
        remaining -= paid
        year, month = divmod(seq, 12)
        rows.append(
            {
                "seq": seq,
                "due_date": f"{2027 + year - (month == 0)}-{month or 12:02d}-04",
                "principal_fen": paid,
                "interest_fen": interest,
                "total_fen": paid + interest,
                "remaining_fen": remaining,
            }
        )
    return rows


@pytest.fixture
def rendered_at() -> datetime:
    return RENDERED_AT


@pytest.fixture
def make_plan() -> Callable[[int, int, int], list[dict]]:
    return _plan


@pytest.fixture
def terms() -> dict[str, Any]:
    return {
        "agreement_id": "0f8c2a8e-1111-4222-8333-944455556666",
        "initiator_role": "lender",
        "lender": {
            "name": "张三",
            "id_number": "11010519491231002X",
            "phone": "+8613800000001",
        },
        "borrower": {
            "name": "李四",
            "id_number": "440524188001010014",
            "phone": "+8613800000002",
        },
        "principal_fen": 1200000,
        "amount_in_words": "人民币壹万贰仟元整",
        "purpose": "装修",
        "loan_date": "2026-12-04",
        "repayment_date": "2027-12-04",
        "term_months": 12,
        "annual_rate": "6.00",
        "overdue_rate": "12.00",
        "day_count": "actual/365",
        "payment_method": "bank_transfer",
        "payment_note": "",
        "repayment_method": "equal_principal",
        "plan": _plan(12, 1200000, 6000),
        "lpr": {"rate": "3.00", "published_on": "2025-05-20"},
    }


def signature_png(wobble: int) -> bytes:
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    points = [(20, 150), (140, 40 + wobble), (260, 160), (380, 50), (560, 120)]
    ImageDraw.Draw(image).line(points, fill=(10, 10, 80, 255), width=8)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def signatures() -> list[SignatureImage]:
    return [
        SignatureImage(
            party="lender",
            name="张三",
            png=signature_png(0),
            signed_at=datetime(2026, 12, 4, 6, 3, 5, tzinfo=UTC),
            document_sha256="a3" * 32,
            verification_id="ver-lender-0001",
        ),
        SignatureImage(
            party="borrower",
            name="李四",
            png=signature_png(30),
            signed_at=datetime(2026, 12, 4, 6, 9, 41, tzinfo=UTC),
            document_sha256="5f" * 32,
            verification_id="ver-borrower-0002",
        ),
    ]


@pytest.fixture
def audit() -> list[AuditEntry]:
    return [
        AuditEntry(RENDERED_AT, "张*（出借人）", "发起借条", "借条第 1 版"),
        AuditEntry(RENDERED_AT, "李*（借款人）", "签署", "短信验证码核验通过"),
    ]


@pytest.fixture
def voided() -> dict[str, str]:
    return {
        "requested_by": "borrower",
        "reason": "双方协商一致取消借款",
        "confirmed_at": "2026-12-05T02:00:00+00:00",
    }
