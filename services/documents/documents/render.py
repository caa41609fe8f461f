"""Render an IOU (借条) to PDF bytes: a preview, a signed copy or a voided copy.

Pure apart from reading the font file once per process. The same inputs give
byte-identical PDFs (reportlab's invariant mode), because the signing flow
hashes the preview.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from jietiao_shared.personal import mask_id_number, mask_phone
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepInFrame,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

Kind = Literal["preview", "signed", "voided"]

FONT_ENV = "JIETIAO_CJK_FONT"
DEBIAN_FONTS = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "fonts-wqy-microhei"),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "fonts-wqy-zenhei"),
    ("/usr/share/fonts/truetype/lxgw/LXGWWenKai-Regular.ttf", "fonts-lxgw-wenkai"),
    (
        "/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf",
        "fonts-lxgw-wenkai",
    ),
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
PREVIEW_MARK = "预览 · 未签署"
VOID_MARK = "已作废"

ROLES = {"lender": "出借人", "borrower": "借款人"}
PAYMENT_METHODS = {
    "bank_transfer": "银行转账",
    "wechat_transfer": "微信转账",
    "wechat": "微信转账",
    "alipay_transfer": "支付宝转账",
    "alipay": "支付宝转账",
    "cash": "现金",
    "other": "其他",
}
REPAYMENT_METHODS = {
    "lump_sum": "一次性还本付息",
    "equal_instalments": "等额本息",
    "equal_principal": "等额本金",
    "interest_first": "先息后本",
}
DAY_COUNTS = {
    "actual/365": "按实际天数计息，一年按 365 天计（actual/365）",
    "actual/360": "按实际天数计息，一年按 360 天计（actual/360）",
}

_PAGE_W, _PAGE_H = A4
_MARGIN = 20 * mm
_BODY_W = _PAGE_W - 2 * _MARGIN
_SIG_BOX = (55 * mm, 18 * mm)
_RED = colors.HexColor("#b71c1c")
_GRID = colors.HexColor("#9e9e9e")
_SHADE = colors.HexColor("#eeeeee")
_TEXT_WHITESPACE = "\n\r\t"
_VOID_NOTE = "本借条已经双方确认作废，不再具有法律效力"
VOID_BAND_WIDTH = _BODY_W
VOID_BAND_HEIGHT = 12 * mm
_VOID_BAND_CAPTION = "作废登记栏 · 本栏空白即本借条未作废"

# reportlab does not promise thread safety and TTFont keeps subset state.
_LOCK = threading.Lock()
_FONTS: dict[str, TTFont] = {}


class UnrenderableCharacter(ValueError):
    """A text to be printed holds characters the font has no glyph for."""

    def __init__(self, missing: Mapping[str, str], font: str) -> None:
        self.characters = tuple(missing)
        listed = ", ".join(f"'{ch}' U+{ord(ch):04X} (in {where})" for ch, where in missing.items())
        super().__init__(f"font {font} cannot render {listed}")


@dataclass(frozen=True)
class SignatureImage:
    """A party's handwritten signature and what it was bound to."""

    party: str
    name: str
    png: bytes
    signed_at: datetime
    document_sha256: str
    verification_id: str

    def __post_init__(self) -> None:
        if self.party not in ROLES:
            raise ValueError(f"party must be lender or borrower, not {self.party!r}")
        _require_aware(self.signed_at, "signed_at")


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit trail; ``actor`` is already masked."""

    at: datetime
    actor: str
    action: str
    detail: str

    def __post_init__(self) -> None:
        _require_aware(self.at, "at")


@dataclass(frozen=True)
class SealBox:
    """Where the signed copy keeps its empty void-seal field: page index and rectangle."""

    page: int
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class RenderedPdf:
    """A rendered PDF and, for a signed copy, the box reserved for a void seal."""

    pdf: bytes
    void_box: SealBox | None


@dataclass(frozen=True)
class _Styles:
    title: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    cell: ParagraphStyle
    number: ParagraphStyle
    small: ParagraphStyle
    void: ParagraphStyle
    void_title: ParagraphStyle
    void_small: ParagraphStyle


@dataclass(frozen=True)
class _Doc:
    terms: Mapping[str, Any]
    kind: str
    signatures: Sequence[SignatureImage]
    audit: Sequence[AuditEntry]
    rendered_at: datetime
    voided: Mapping[str, Any] | None
    font: str
    s: _Styles
    void_box: list[SealBox]


def find_font(explicit: str | None = None) -> str:
    """Return the path of a TrueType CJK font: argument, env, then Debian paths."""
    chosen = explicit or os.environ.get(FONT_ENV)
    if chosen:
        if not Path(chosen).is_file():
            raise RuntimeError(f"CJK font file not found: {chosen}")
        return chosen
    for path, _package in DEBIAN_FONTS:
        if Path(path).is_file():
            return path
    packages = ", ".join(dict.fromkeys(package for _, package in DEBIAN_FONTS))
    raise RuntimeError(
        f"no TrueType CJK font found: install one of the Debian packages {packages} "
        f"or set {FONT_ENV} to a .ttf/.ttc file"
    )


def render_iou(
    terms: Mapping[str, Any],
    *,
    kind: Kind,
    signatures: Sequence[SignatureImage] = (),
    audit: Sequence[AuditEntry] = (),
    rendered_at: datetime,
    voided: Mapping[str, Any] | None = None,
    font_path: str | None = None,
) -> bytes:
    """Render the IOU of ``terms`` as ``kind`` and return the PDF bytes."""
    return render_iou_layout(
        terms,
        kind=kind,
        signatures=signatures,
        audit=audit,
        rendered_at=rendered_at,
        voided=voided,
        font_path=font_path,
    ).pdf


def render_iou_layout(
    terms: Mapping[str, Any],
    *,
    kind: Kind,
    signatures: Sequence[SignatureImage] = (),
    audit: Sequence[AuditEntry] = (),
    rendered_at: datetime,
    voided: Mapping[str, Any] | None = None,
    font_path: str | None = None,
) -> RenderedPdf:
    """Like :func:`render_iou`, also telling where a signed copy's void band is.

    A signed copy carries, under its title, an empty band (作废登记栏) that the
    sealing step reserves as an empty signature field: a later void seal fills it
    without touching the sealed content.
    """
    _check_request(terms, kind, rendered_at, voided)
    font = _register_font(find_font(font_path))
    _check_glyphs(font, _input_texts(terms, signatures, audit, voided))
    doc = _Doc(terms, kind, signatures, audit, rendered_at, voided, font, _styles(font), [])
    pdf = _build(doc)
    return RenderedPdf(pdf, doc.void_box[-1] if doc.void_box else None)


# --- checks -------------------------------------------------------------------


def _require_aware(at: datetime, field: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{field} must be timezone-aware")


def _check_request(
    terms: Mapping[str, Any],
    kind: str,
    rendered_at: datetime,
    voided: Mapping[str, Any] | None,
) -> None:
    if kind not in ("preview", "signed", "voided"):
        raise ValueError(f"unknown document kind {kind!r}")
    if kind == "voided" and not voided:
        raise ValueError("a voided document needs the void details")
    _require_aware(rendered_at, "rendered_at")
    _check_rates_within_lpr_cap(terms)


def _check_rates_within_lpr_cap(terms: Mapping[str, Any]) -> None:
    # The document states the cap is respected; never print that falsely.
    cap = 4 * Decimal(str(terms["lpr"]["rate"]))
    for field in ("annual_rate", "overdue_rate"):
        if Decimal(str(terms[field])) > cap:
            raise ValueError(f"{field} {terms[field]}% exceeds 4x LPR ({cap}%)")


def _input_texts(
    terms: Mapping[str, Any],
    signatures: Sequence[SignatureImage],
    audit: Sequence[AuditEntry],
    voided: Mapping[str, Any] | None,
) -> Iterator[tuple[str, str]]:
    yield from _strings(terms, "terms")
    yield from _strings(voided, "voided")
    for i, sig in enumerate(signatures):
        fields = [sig.name, sig.document_sha256, sig.verification_id]
        yield from _strings(fields, f"signatures[{i}]")
    for i, entry in enumerate(audit):
        yield from _strings([entry.actor, entry.action, entry.detail], f"audit[{i}]")


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _strings(item, f"{where}[{i}]")
    elif value is not None:
        yield where, str(value)


def _check_glyphs(font: str, texts: Iterator[tuple[str, str]]) -> None:
    face = _FONTS[font].face
    missing: dict[str, str] = {}
    for where, text in texts:
        for ch in text:
            if ch not in _TEXT_WHITESPACE and ord(ch) not in face.charToGlyph:
                missing.setdefault(ch, where)
    if missing:
        raise UnrenderableCharacter(missing, face.familyName.decode("latin-1"))


# --- font and styles ------------------------------------------------------------


def _register_font(path: str) -> str:
    name = f"JietiaoCJK-{Path(path).stem}"
    with _LOCK:
        if name not in _FONTS:
            font = TTFont(name, path, subfontIndex=0)
            pdfmetrics.registerFont(font)
            _FONTS[name] = font
    return name


@lru_cache
def _styles(font: str) -> _Styles:
    def style(name: str, size: float, **extra: Any) -> ParagraphStyle:
        return ParagraphStyle(
            name,
            fontName=font,
            fontSize=size,
            leading=size * 1.35,
            wordWrap="CJK",
            **extra,
        )

    return _Styles(
        title=style("title", 22, alignment=TA_CENTER, spaceAfter=3 * mm),
        heading=style("heading", 12, spaceBefore=3 * mm, spaceAfter=1.5 * mm),
        body=style("body", 10, spaceAfter=1 * mm),
        cell=style("cell", 9),
        number=style("number", 9, alignment=TA_RIGHT),
        small=style("small", 8.5, textColor=colors.HexColor("#424242")),
        void=style("void", 10, textColor=_RED),
        void_title=style("void_title", 18, textColor=_RED, alignment=TA_CENTER),
        void_small=style("void_small", 7.5, textColor=_RED),
    )


# --- formatting -----------------------------------------------------------------


def _local_time(at: datetime) -> str:
    local = at.astimezone(SHANGHAI)
    offset = f"{local:%z}"  # "+0800"; %:z needs Python 3.12
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    yuan, rest = divmod(abs(int(fen)), 100)
    return f"{sign}{yuan:,}.{rest:02d}"


def _label(labels: Mapping[str, str], value: str, field: str) -> str:
    if value not in labels:
        raise ValueError(f"unknown {field} {value!r}")
    return labels[value]


def _is_zero(rate: Any) -> bool:
    return Decimal(str(rate)) == 0


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _party(doc: _Doc, role: str) -> Mapping[str, Any]:
    party: Mapping[str, Any] = doc.terms[role]
    return party


# --- the IOU ----------------------------------------------------------------------


def _build(doc: _Doc) -> bytes:
    out = io.BytesIO()
    template = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=24 * mm,
        bottomMargin=20 * mm,
        title=f"借条 {doc.terms['agreement_id']}",
        author="Jietiao",
        invariant=1,
    )
    decorate = _PageDecoration(doc)
    with _LOCK:
        template.build(_story(doc), onFirstPage=decorate, onLaterPages=decorate)
    return out.getvalue()


def _story(doc: _Doc) -> list[Flowable]:
    story: list[Flowable] = [_p("借条", doc.s.title)]
    if doc.kind == "voided":
        story.append(_void_notice(doc))
    elif doc.kind == "signed":
        story.append(_VoidBand(doc))
    story += [*_statement(doc), _parties_table(doc), *_terms(doc), *_plan(doc)]
    story.append(_signature_block(doc))
    if doc.kind != "preview":
        story += [PageBreak(), *_evidence(doc)]
    return story


def _statement(doc: _Doc) -> list[Flowable]:
    t = doc.terms
    lender, borrower = _party(doc, "lender"), _party(doc, "borrower")
    text = (
        f"今借款人{borrower['name']}向出借人{lender['name']}借到人民币"
        f"¥{_yuan(t['principal_fen'])}（大写：{t['amount_in_words']}），"
        f"用于{t['purpose']}。借款人承诺按本借条约定的日期、利率和还款计划"
        "按期足额归还借款本息。双方身份信息如下："
    )
    return [_p(text, doc.s.body)]


def _parties_table(doc: _Doc) -> Table:
    rows = [["", "出借人", "借款人"]]
    shown: dict[str, Callable[[str], str]] = {
        "name": str,
        "id_number": mask_id_number,
        "phone": mask_phone,
    }
    for label, key in (
        ("姓名", "name"),
        ("身份证号", "id_number"),
        ("手机号", "phone"),
    ):
        show = shown[key]
        rows.append([label, show(_party(doc, "lender")[key]), show(_party(doc, "borrower")[key])])
    cells = [[_p(str(v), doc.s.cell) for v in row] for row in rows]
    widths = [28 * mm, (_BODY_W - 28 * mm) / 2, (_BODY_W - 28 * mm) / 2]
    return Table(cells, colWidths=widths, style=_grid(header=True))


def _terms(doc: _Doc) -> list[Flowable]:
    rows = _term_rows(doc)
    cells = [[_p(text, doc.s.cell) for text in (*row, "", "")[:4]] for row in rows]
    spans = [("SPAN", (1, r), (3, r)) for r, row in enumerate(rows) if len(row) == 2]
    label, value = 24 * mm, _BODY_W / 2 - 24 * mm
    table = Table(cells, colWidths=[label, value] * 2, style=_grid())
    table.setStyle(TableStyle(spans))
    return [_p("借款条件", doc.s.heading), table]


def _term_rows(doc: _Doc) -> list[tuple[str, ...]]:
    t = doc.terms
    return [
        ("借款金额", f"¥{_yuan(t['principal_fen'])}（大写：{t['amount_in_words']}）"),
        ("借款用途", str(t["purpose"]), "交付方式", _handover(t)),
        ("借款日期", f"{t['loan_date']}（当日交付）", "还款日期", _due(t)),
        ("年利率", _annual(t), "还款方式", _repayment(t)),
        ("逾期利率", _overdue(t)),
        ("计息规则", _label(DAY_COUNTS, t["day_count"], "day_count")),
        ("利率上限", _lpr_line(t)),
    ]


def _due(terms: Mapping[str, Any]) -> str:
    return f"{terms['repayment_date']}（期限 {terms['term_months']} 个月）"


def _annual(terms: Mapping[str, Any]) -> str:
    rate = terms["annual_rate"]
    return "无息" if _is_zero(rate) else f"{rate}%"


def _handover(terms: Mapping[str, Any]) -> str:
    method = _label(PAYMENT_METHODS, terms["payment_method"], "payment_method")
    note = str(terms.get("payment_note") or "").strip()
    return f"{method}（{note}）" if note else method


def _overdue(terms: Mapping[str, Any]) -> str:
    if _is_zero(terms["overdue_rate"]):
        return "不计逾期利息"
    return f"年利率 {terms['overdue_rate']}%，自逾期之日起按逾期本金计收"


def _repayment(terms: Mapping[str, Any]) -> str:
    method = _label(REPAYMENT_METHODS, terms["repayment_method"], "repayment_method")
    count = len(terms.get("plan") or ())
    return f"{method}（共 {count} 期）" if count else method


def _lpr_line(terms: Mapping[str, Any]) -> str:
    lpr = terms["lpr"]
    cap = 4 * Decimal(str(lpr["rate"]))
    return (
        f"上述年利率与逾期利率均未超过合同成立时一年期贷款市场报价利率（LPR）"
        f"{lpr['rate']}%（{lpr['published_on']} 发布）的四倍，即 {cap:.2f}%。"
    )


def _plan(doc: _Doc) -> list[Flowable]:
    plan = doc.terms.get("plan") or []
    if not plan:
        return []
    head = ["期数", "应还日期", "应还本金", "应还利息", "应还合计", "剩余本金"]
    # Plain strings, not Paragraphs: a 36-row plan renders twice as fast.
    rows = [head, *(_plan_row(item) for item in plan), _plan_total(plan)]
    widths = [14 * mm, 28 * mm] + [(_BODY_W - 42 * mm) / 4] * 4
    table = Table(rows, colWidths=widths, repeatRows=1, style=_grid(header=True))
    table.setStyle(_plain_cells(doc.font, doc.s.cell, numbers_from=2))
    return [_p("还款计划（金额单位：人民币元）", doc.s.heading), table]


def _plan_row(item: Mapping[str, Any]) -> list[str]:
    amounts = ("principal_fen", "interest_fen", "total_fen", "remaining_fen")
    return [str(item["seq"]), str(item["due_date"])] + [_yuan(item[key]) for key in amounts]


def _plan_total(plan: Sequence[Mapping[str, Any]]) -> list[str]:
    sums = [
        sum(int(item[key]) for item in plan)
        for key in ("principal_fen", "interest_fen", "total_fen")
    ]
    return ["合计", "", *(_yuan(amount) for amount in sums), ""]


def _plain_cells(font: str, like: ParagraphStyle, *, numbers_from: int) -> TableStyle:
    return TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), font),
            ("FONTSIZE", (0, 0), (-1, -1), like.fontSize),
            ("LEADING", (0, 0), (-1, -1), like.leading),
            ("ALIGN", (numbers_from, 1), (-1, -1), "RIGHT"),
        ]
    )


def _grid(*, header: bool = False) -> TableStyle:
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.5, _GRID),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), _SHADE))
    return TableStyle(commands)


# --- signatures -------------------------------------------------------------------


def _signature_block(doc: _Doc) -> Flowable:
    cells = [_signature_cell(doc, role) for role in ROLES]
    table = Table([cells], colWidths=[_BODY_W / 2] * 2)
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return KeepTogether([_p("签署", doc.s.heading), table])


def _signature_cell(doc: _Doc, role: str) -> list[Flowable]:
    signature = _signature_of(doc, role)
    name = _party(doc, role)["name"]
    if signature is None:
        return [
            _p(f"{ROLES[role]}（签字）：{name}", doc.s.body),
            Spacer(1, _SIG_BOX[1]),
            _p("签署时间：（待签署）", doc.s.body),
        ]
    return [
        _p(f"{ROLES[role]}（签字）：{signature.name}", doc.s.body),
        _signature_image(signature.png),
        _p(f"签署时间：{_local_time(signature.signed_at)}", doc.s.body),
    ]


def _signature_of(doc: _Doc, role: str) -> SignatureImage | None:
    if doc.kind == "preview":
        return None
    return next((s for s in doc.signatures if s.party == role), None)


def _signature_image(png: bytes) -> Image:
    width, height = ImageReader(io.BytesIO(png)).getSize()
    scale = min(_SIG_BOX[0] / width, _SIG_BOX[1] / height)
    image = Image(io.BytesIO(png), width * scale, height * scale, mask="auto")
    image.hAlign = "LEFT"
    return image


# --- void notice and evidence page ----------------------------------------------


def _void_notice(doc: _Doc) -> Table:
    rows = [[_p(VOID_MARK, doc.s.void_title)], [_p(_VOID_NOTE, doc.s.void)]]
    rows += [[_p(f"{k}：{v}", doc.s.void)] for k, v in _void_rows(doc)]
    style = TableStyle([("BOX", (0, 0), (-1, -1), 1.5, _RED)])
    return Table(rows, colWidths=[_BODY_W], style=style, spaceAfter=4 * mm)


def _void_rows(doc: _Doc) -> list[tuple[str, str]]:
    voided = doc.voided or {}
    requester = str(voided.get("requested_by", ""))
    if requester in ROLES:
        requester = f"{ROLES[requester]} {_party(doc, requester)['name']}"
    confirmed = datetime.fromisoformat(str(voided["confirmed_at"]))
    _require_aware(confirmed, "voided.confirmed_at")
    return [
        ("作废申请方", requester),
        ("作废原因", str(voided.get("reason", ""))),
        ("确认作废时间", _local_time(confirmed)),
    ]


def _evidence(doc: _Doc) -> list[Flowable]:
    story: list[Flowable] = [
        _p("证据页", doc.s.title),
        _p(
            f"协议编号：{doc.terms['agreement_id']}。本页与前述借条正文构成同一文件，"
            "记录各方签署时所确认文件的 SHA-256 摘要、身份核验编号与签署时间。",
            doc.s.body,
        ),
        _p("电子签名", doc.s.heading),
    ]
    story += [_evidence_table(doc, sig) for sig in doc.signatures] or [
        _p("（无签署记录）", doc.s.body)
    ]
    if doc.kind == "voided":
        story += [_p("作废记录", doc.s.heading), _void_table(doc)]
    return [*story, _p("操作记录", doc.s.heading), _audit_table(doc)]


def _evidence_table(doc: _Doc, sig: SignatureImage) -> Table:
    rows = [
        ("签署方", f"{ROLES[sig.party]} {sig.name}"),
        ("签署时间", _local_time(sig.signed_at)),
        ("所签文件 SHA-256", sig.document_sha256),
        ("核验编号", sig.verification_id),
    ]
    cells = [[_p(k, doc.s.cell), _p(v, doc.s.cell)] for k, v in rows]
    widths = [32 * mm, _BODY_W - 32 * mm]
    return Table(cells, colWidths=widths, style=_grid(), spaceAfter=3 * mm)


def _void_table(doc: _Doc) -> Table:
    cells = [[_p(k, doc.s.cell), _p(v, doc.s.cell)] for k, v in _void_rows(doc)]
    return Table(cells, colWidths=[32 * mm, _BODY_W - 32 * mm], style=_grid())


def _audit_table(doc: _Doc) -> Flowable:
    if not doc.audit:
        return _p("（无）", doc.s.body)
    rows = [[_p(h, doc.s.cell) for h in ("时间", "操作人", "操作", "说明")]]
    for entry in doc.audit:
        texts = (_local_time(entry.at), entry.actor, entry.action, entry.detail)
        rows.append([_p(text, doc.s.small) for text in texts])
    widths = [44 * mm, 34 * mm, 30 * mm, _BODY_W - 108 * mm]
    return Table(rows, colWidths=widths, repeatRows=1, style=_grid(header=True))


class _VoidBand(Flowable):  # type: ignore[misc]
    """The empty 作废登记栏 of a signed copy; records where it was drawn."""

    def __init__(self, doc: _Doc) -> None:
        super().__init__()
        self.doc = doc
        self.spaceAfter = 2 * mm

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        return VOID_BAND_WIDTH, VOID_BAND_HEIGHT

    def draw(self) -> None:
        canvas = self.canv
        x, y = canvas.absolutePosition(0, 0)
        page = canvas.getPageNumber() - 1
        box = SealBox(page, x, y, x + VOID_BAND_WIDTH, y + VOID_BAND_HEIGHT)
        self.doc.void_box.append(box)
        canvas.saveState()
        canvas.setStrokeColor(_GRID)
        canvas.setDash(2, 2)
        canvas.rect(0, 0, VOID_BAND_WIDTH, VOID_BAND_HEIGHT)
        canvas.setFont(self.doc.font, 8)
        canvas.setFillColor(colors.HexColor("#9e9e9e"))
        canvas.drawCentredString(VOID_BAND_WIDTH / 2, VOID_BAND_HEIGHT / 2 - 3, _VOID_BAND_CAPTION)
        canvas.restoreState()


def render_void_stamp(
    terms: Mapping[str, Any],
    voided: Mapping[str, Any],
    *,
    font_path: str | None = None,
) -> bytes:
    """A one-page PDF the size of the void band: 作废, 已作废 and the void details.

    The sealing step uses it as the appearance of the void seal.
    """
    font = _register_font(find_font(font_path))
    _check_glyphs(font, _strings(voided, "voided"))
    doc = _Doc(terms, "voided", (), (), datetime.now(SHANGHAI), voided, font, _styles(font), [])
    (who_k, who), (why_k, why), (when_k, when) = _void_rows(doc)
    lines = [f"{VOID_MARK} — {_VOID_NOTE}", f"{who_k}：{who}　{when_k}：{when}", f"{why_k}：{why}"]
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(VOID_BAND_WIDTH, VOID_BAND_HEIGHT), invariant=1)
    with _LOCK:
        canvas.setFillColor(colors.white)
        canvas.rect(0, 0, VOID_BAND_WIDTH, VOID_BAND_HEIGHT, stroke=0, fill=1)
        canvas.setStrokeColor(_RED)
        canvas.setLineWidth(2)
        canvas.rect(1, 1, VOID_BAND_WIDTH - 2, VOID_BAND_HEIGHT - 2)
        canvas.setFillColor(_RED)
        canvas.setFont(font, 24)
        canvas.drawCentredString(16 * mm, VOID_BAND_HEIGHT / 2 - 8, "作废")
        story = [_p(line, doc.s.void_small) for line in lines]
        frame_w, frame_h = VOID_BAND_WIDTH - 36 * mm, VOID_BAND_HEIGHT - 1.5 * mm
        fitted = KeepInFrame(frame_w, frame_h, story, mode="shrink")
        _, used = fitted.wrapOn(canvas, frame_w, frame_h)
        fitted.drawOn(canvas, 33 * mm, 0.75 * mm + frame_h - used)
        canvas.showPage()
        canvas.save()
    return out.getvalue()


# --- page furniture -------------------------------------------------------------


class _PageDecoration:
    """Header, watermark and footer drawn on every page before its content."""

    def __init__(self, doc: _Doc) -> None:
        self.doc = doc

    def __call__(self, canvas: Canvas, template: SimpleDocTemplate) -> None:
        canvas.saveState()
        if self.doc.kind == "preview":
            self._mark(canvas, PREVIEW_MARK, "本文件为预览稿，尚未签署，不具法律效力")
        elif self.doc.kind == "voided":
            self._mark(canvas, VOID_MARK, _VOID_NOTE)
        else:
            self._header(canvas, "电子借条 · 已签署", colors.HexColor("#616161"))
        self._footer(canvas, template.page)
        canvas.restoreState()

    def _mark(self, canvas: Canvas, mark: str, note: str) -> None:
        self._watermark(canvas, mark)
        self._header(canvas, f"{mark} — {note}", _RED)

    def _watermark(self, canvas: Canvas, mark: str) -> None:
        canvas.saveState()
        canvas.setFont(self.doc.font, 64)
        canvas.setFillColor(colors.HexColor("#f2d4d4"))
        canvas.translate(_PAGE_W / 2, _PAGE_H / 2)
        canvas.rotate(35)
        canvas.drawCentredString(0, 0, mark)
        canvas.restoreState()

    def _header(self, canvas: Canvas, text: str, color: colors.Color) -> None:
        canvas.setFont(self.doc.font, 12)
        canvas.setFillColor(color)
        canvas.drawCentredString(_PAGE_W / 2, _PAGE_H - 14 * mm, text)

    def _footer(self, canvas: Canvas, page: int) -> None:
        agreement = self.doc.terms["agreement_id"]
        rendered = _local_time(self.doc.rendered_at)
        canvas.setFont(self.doc.font, 8)
        canvas.setFillColor(colors.HexColor("#616161"))
        canvas.drawString(_MARGIN, 10 * mm, f"协议编号 {agreement} · 生成于 {rendered}")
        canvas.drawRightString(_PAGE_W - _MARGIN, 10 * mm, f"第 {page} 页")
