import hashlib
import io
import json
import re
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from documents import render
from documents.render import (
    UnrenderableCharacter,
    find_font,
    render_iou,
)
from jietiao_shared import text as printable
from pypdf import PdfReader
from reportlab.pdfbase.ttfonts import TTFont


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def text_of(pdf: bytes) -> str:
    return "\n".join(pages_text(pdf))


def table_text(pdf: bytes) -> str:
    """Text with every run of whitespace as one space: table cells come per line."""
    return " ".join(text_of(pdf).split())


@pytest.fixture
def signed_kwargs(signatures, audit, rendered_at) -> dict:
    return {"signatures": signatures, "audit": audit, "rendered_at": rendered_at}


def test_the_document_shows_id_and_phone_numbers_masked(terms, rendered_at):
    text = text_of(render_iou(terms, kind="preview", rendered_at=rendered_at))

    for full in ("11010519491231002X", "440524188001010014", "13800000001"):
        assert full not in text


def test_preview_states_title_parties_and_amount(terms, rendered_at):
    text = text_of(render_iou(terms, kind="preview", rendered_at=rendered_at))

    for expected in (
        "借条",
        "张三",
        "李四",
        "110***********002X",
        "440***********0014",
        "138****0001",
        "¥12,000.00",
        "人民币壹万贰仟元整",
        "装修",
        "银行转账",
        "2026-12-04",
        "2027-12-04",
        "6.00%",
        "12.00%",
        "等额本金",
        "actual/365",
        "3.00%",
        "2025-05-20",
    ):
        assert expected in text, expected


def test_preview_is_marked_as_unsigned_on_every_page(terms, rendered_at, make_plan):
    terms["plan"] = make_plan(36, 1200000, 6000)

    pages = pages_text(render_iou(terms, kind="preview", rendered_at=rendered_at))

    assert all("预览 · 未签署" in page for page in pages)
    assert "证据页" not in "".join(pages)


def test_signed_places_signatures_and_adds_an_evidence_page(terms, signed_kwargs):
    pdf = render_iou(terms, kind="signed", **signed_kwargs)
    pages = pages_text(pdf)

    evidence = pages[-1]
    assert "证据页" in evidence
    assert "a3" * 32 in evidence
    assert "5f" * 32 in evidence
    assert "ver-lender-0001" in evidence and "ver-borrower-0002" in evidence
    assert "短信验证码核验通过" in evidence and "李*（借款人）" in evidence
    assert "预览" not in "".join(pages)
    assert len(PdfReader(io.BytesIO(pdf)).pages[0].images) == 2


def test_signing_times_are_printed_in_shanghai_time(terms, signed_kwargs):
    text = text_of(render_iou(terms, kind="signed", **signed_kwargs))

    assert "2026-12-04 14:03:05 +08:00" in text
    assert "2026-12-04 14:09:41 +08:00" in text
    times = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: [+-]\d\d:\d\d)?", text)
    assert times and all(t.endswith("+08:00") for t in times)


def test_voided_is_marked_with_the_void_details(terms, signed_kwargs, voided):
    pdf = render_iou(terms, kind="voided", voided=voided, **signed_kwargs)
    pages = pages_text(pdf)

    assert all("已作废" in page for page in pages)
    assert "双方协商一致取消借款" in pages[0]
    assert "借款人 李四" in pages[0]
    assert "2026-12-05 10:00:00 +08:00" in pages[0]
    assert "证据页" in pages[-1] and "5f" * 32 in pages[-1]


def test_voided_without_details_is_refused(terms, signed_kwargs):
    with pytest.raises(ValueError, match="void details"):
        render_iou(terms, kind="voided", **signed_kwargs)


def test_same_input_gives_identical_bytes(terms, signed_kwargs, voided):
    first = render_iou(terms, kind="voided", voided=voided, **signed_kwargs)
    second = render_iou(terms, kind="voided", voided=voided, **signed_kwargs)

    assert first == second


def test_same_preview_gives_identical_bytes_in_a_fresh_process(terms, rendered_at):
    here = hashlib.sha256(render_iou(terms, kind="preview", rendered_at=rendered_at))
    script = (
        "import hashlib, json, sys\n"
        "from datetime import datetime\n"
        "from documents.render import render_iou\n"
        "terms = json.loads(sys.argv[1])\n"
        "at = datetime.fromisoformat(sys.argv[2])\n"
        "pdf = render_iou(terms, kind='preview', rendered_at=at)\n"
        "sys.stdout.write(hashlib.sha256(pdf).hexdigest())\n"
    )
    there = subprocess.run(
        [sys.executable, "-c", script, json.dumps(terms), rendered_at.isoformat()],
        cwd=Path(render.__file__).parents[1],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert there == here.hexdigest()


def test_a_different_rendering_time_changes_the_bytes(terms, rendered_at):
    later = rendered_at.replace(minute=11)

    first = render_iou(terms, kind="preview", rendered_at=rendered_at)
    second = render_iou(terms, kind="preview", rendered_at=later)

    assert first != second


def test_a_character_missing_from_the_font_is_named(terms, rendered_at):
    terms["lender"]["name"] = "张\U00020000"

    with pytest.raises(UnrenderableCharacter) as raised:
        render_iou(terms, kind="preview", rendered_at=rendered_at)

    message = str(raised.value)
    assert "\U00020000" in message
    assert "U+20000" in message
    assert "terms.lender.name" in message
    assert raised.value.characters == ("\U00020000",)


def test_a_signature_name_missing_from_the_font_is_named(terms, signed_kwargs, signatures):
    signatures[1] = render.SignatureImage(**{**signatures[1].__dict__, "name": "李\U0002a6d6"})

    with pytest.raises(UnrenderableCharacter, match="U\\+2A6D6"):
        render_iou(terms, kind="signed", **{**signed_kwargs, "signatures": signatures})


def test_every_fixed_label_is_in_the_font():
    source = Path(render.__file__).read_text(encoding="utf-8")
    face = TTFont("label-check", find_font()).face

    missing = {ch for ch in source if ord(ch) > 127 and ord(ch) not in face.charToGlyph}

    assert not missing


def test_zero_rate_is_printed_as_interest_free(terms, rendered_at):
    terms["annual_rate"] = "0.00"
    terms["plan"] = [{**row, "interest_fen": 0} for row in terms["plan"]]

    text = text_of(render_iou(terms, kind="preview", rendered_at=rendered_at))

    assert "无息" in text
    assert "0.00%" not in text


def test_a_short_plan_fits_on_one_page(terms, rendered_at):
    pdf = render_iou(terms, kind="preview", rendered_at=rendered_at)

    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


def test_a_long_plan_runs_over_pages_with_every_instalment(terms, rendered_at, make_plan):
    terms["plan"] = make_plan(36, 3600000, 18000)

    pdf = render_iou(terms, kind="preview", rendered_at=rendered_at)
    text = table_text(pdf)

    assert len(PdfReader(io.BytesIO(pdf)).pages) > 1
    for row in terms["plan"]:
        # 180.00 interest the first month, 5.00 the last
        interest, remaining = (Decimal(row[k]) / 100 for k in ("interest_fen", "remaining_fen"))
        line = f"{row['seq']} {row['due_date']} 1,000.00 {interest:,.2f} "
        assert line + f"{1000 + interest:,.2f} {remaining:,.2f}" in text, line
    assert "36,000.00 3,330.00 39,330.00" in text


def test_plan_amounts_are_printed_in_yuan_to_the_fen(terms, rendered_at):
    terms["plan"][0] |= {"principal_fen": 97283, "interest_fen": 5, "total_fen": 97288}

    text = table_text(render_iou(terms, kind="preview", rendered_at=rendered_at))

    assert "1 2027-01-04 972.83 0.05 972.88" in text


@pytest.mark.parametrize(
    ("method", "label"),
    [
        ("bank_transfer", "银行转账"),
        ("wechat_transfer", "微信转账"),
        ("alipay_transfer", "支付宝转账"),
        ("cash", "现金"),
        ("other", "其他"),
    ],
)
def test_handover_method_is_printed_in_chinese(terms, rendered_at, method, label):
    terms["payment_method"] = method
    terms["payment_note"] = "当面点清"

    text = text_of(render_iou(terms, kind="preview", rendered_at=rendered_at))

    assert f"{label}（当面点清）" in text


@pytest.mark.parametrize(
    ("method", "label"),
    [
        ("lump_sum", "一次性还本付息"),
        ("equal_instalments", "等额本息"),
        ("equal_principal", "等额本金"),
        ("interest_first", "先息后本"),
    ],
)
def test_repayment_method_is_printed_in_chinese(terms, rendered_at, method, label):
    terms["repayment_method"] = method

    text = text_of(render_iou(terms, kind="preview", rendered_at=rendered_at))

    assert label in text


def test_unknown_handover_method_is_refused(terms, rendered_at):
    terms["payment_method"] = "barter"

    with pytest.raises(ValueError, match="barter"):
        render_iou(terms, kind="preview", rendered_at=rendered_at)


def test_markup_in_user_text_is_printed_literally(terms, rendered_at):
    terms["purpose"] = "装修 <b>&amp; 家具</b>"

    text = text_of(render_iou(terms, kind="preview", rendered_at=rendered_at))

    assert "装修 <b>&amp; 家具</b>" in text


def test_a_rate_above_four_times_lpr_is_refused(terms, rendered_at):
    terms["overdue_rate"] = "12.01"

    with pytest.raises(ValueError, match="4x LPR"):
        render_iou(terms, kind="preview", rendered_at=rendered_at)


def test_naive_times_are_refused(terms):
    with pytest.raises(ValueError, match="timezone-aware"):
        render_iou(terms, kind="preview", rendered_at=datetime(2026, 12, 4))


def test_unknown_kind_is_refused(terms, rendered_at):
    with pytest.raises(ValueError, match="kind"):
        render_iou(terms, kind="draft", rendered_at=rendered_at)  # type: ignore[arg-type]


def test_find_font_prefers_the_explicit_path_then_the_environment(monkeypatch, tmp_path):
    explicit, configured = tmp_path / "a.ttf", tmp_path / "b.ttf"
    explicit.touch()
    configured.touch()
    monkeypatch.setenv("JIETIAO_CJK_FONT", str(configured))

    assert find_font(str(explicit)) == str(explicit)
    assert find_font() == str(configured)


def test_find_font_names_the_debian_package_when_nothing_is_installed(monkeypatch, tmp_path):
    monkeypatch.delenv("JIETIAO_CJK_FONT", raising=False)
    absent = ((str(tmp_path / "wqy-microhei.ttc"), "fonts-wqy-microhei"),)
    monkeypatch.setattr(render, "DEBIAN_FONTS", absent)

    with pytest.raises(RuntimeError, match="fonts-wqy-microhei"):
        find_font()


def test_find_font_refuses_a_missing_explicit_path(tmp_path):
    with pytest.raises(RuntimeError, match="not found"):
        find_font(str(tmp_path / "missing.ttf"))


def test_the_font_draws_every_character_a_person_may_type() -> None:
    """What agreements accepts in names, purposes, notes and reasons, the PDF prints."""
    face = TTFont("check", find_font(), subfontIndex=0).face
    allowed = [
        chr(point)
        for low, high in printable.ALLOWED_RANGES
        for point in range(low, high + 1)
        if printable.allowed(chr(point))
    ]

    missing = [c for c in allowed if ord(c) not in face.charToGlyph]

    assert len(allowed) > 21_000 and missing == []
    assert not printable.allowed("😀") and not printable.allowed("\u202e")
