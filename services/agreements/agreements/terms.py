"""From what a person typed to the exact terms of an IOU, or field-level errors.

Every field is checked and every problem reported at once, by field name, with a
machine code and a Chinese message. The derived terms (capital numerals, plan,
LPR cap) are computed by the pure domain functions and stored with the IOU, so
the document, the API and the reminders all read the same numbers.
"""

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from jietiao_shared import text
from jietiao_shared.personal import (
    PersonalDataError,
    normalise_id_number,
    normalise_phone,
)
from pydantic import BaseModel, Field, StrictBool

from . import store
from .domain import DomainError, capitals, dates, lpr, money, plan
from .settings import AgreementsSettings
from .store import VerifiedIdentity

PAYMENT_METHODS = (
    "bank_transfer",
    "wechat_transfer",
    "alipay_transfer",
    "cash",
    "other",
)
REPAYMENT_METHODS = (
    "lump_sum",
    "equal_instalments",
    "equal_principal",
    "interest_first",
)


MAX_TERM_MONTHS = 360
"""The longest loan an IOU may run: 30 years."""


class NoticeAcceptance(BaseModel):
    """The initiator read and accepted the IOU notice (小借条告知书)."""

    version: str = Field(min_length=1, max_length=20)
    accepted: StrictBool  # true, not "yes" or 1: consent is not inferred


class PersonInput(BaseModel):
    """A party as typed: full name, resident ID number, mobile number."""

    name: str = Field(max_length=50)
    id_number: str = Field(max_length=30)
    phone: str = Field(default="", max_length=30)


class IouDraft(BaseModel):
    """Everything the initiator fills in to create an IOU."""

    notice: NoticeAcceptance
    role: Literal["lender", "borrower"] = "lender"
    me: PersonInput
    counterparty: PersonInput
    principal: str = Field(max_length=30)
    purpose: str = Field(default="", max_length=1000)
    loan_date: date
    repayment_date: date | None = None
    term_months: int | None = Field(default=None, ge=1, le=MAX_TERM_MONTHS)
    annual_rate: str = Field(default="0", max_length=10)
    overdue_rate: str = Field(default="0", max_length=10)
    payment_method: str = "bank_transfer"
    payment_note: str = Field(default="", max_length=100)
    repayment_method: str = "lump_sum"
    reminders_enabled: bool = False


class TermsRejected(ValueError):
    """One or more fields are wrong; ``fields`` names each with a code and message."""

    def __init__(self, fields: list[dict[str, str]]) -> None:
        super().__init__(", ".join(f["field"] for f in fields))
        self.fields = fields


class _Problems:
    def __init__(self) -> None:
        self.fields: list[dict[str, str]] = []

    def add(self, field: str, code: str, message: str) -> None:
        self.fields.append({"field": field, "code": code, "message": message})

    def raise_if_any(self) -> None:
        if self.fields:
            raise TermsRejected(self.fields)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_RATE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,2})?")  # after folding full-width; \d takes ٦
SHANGHAI = ZoneInfo("Asia/Shanghai")


@lru_cache(maxsize=4)
def lpr_table(path: str | None) -> lpr.LprTable:
    """The LPR table: the operator's file when configured, else the packaged one."""
    return lpr.load_lpr_table(path)


def _person(
    field: str, raw: PersonInput, problems: _Problems, *, phone_default: str = ""
) -> dict[str, str] | None:
    name = raw.name.strip()
    result: dict[str, str] = {"name": name}
    ok = True
    if not name or _CONTROL.search(name) or len(name) > 30:
        problems.add(f"{field}.name", "name_invalid", "请输入真实姓名（不超过30个字）")
        ok = False
    elif bad := text.unprintable(name):
        problems.add(f"{field}.name", "name_unprintable", _unprintable_message(bad))
        ok = False
    try:
        result["id_number"] = normalise_id_number(raw.id_number)
    except PersonalDataError as exc:
        problems.add(f"{field}.id_number", exc.code, exc.message)
        ok = False
    try:
        result["phone"] = normalise_phone(raw.phone or phone_default)
    except PersonalDataError as exc:
        problems.add(f"{field}.phone", exc.code, exc.message)
        ok = False
    return result if ok else None


def _rate(field: str, raw: str, problems: _Problems) -> Decimal | None:
    value = raw.strip().translate(money.FULL_WIDTH).rstrip("%").strip()
    if not _RATE.fullmatch(value):
        problems.add(field, "rate_invalid", "年利率请填写数字，最多两位小数，如 6 或 7.25")
        return None
    return Decimal(value)


def _dates(draft: IouDraft, problems: _Problems, settings: AgreementsSettings) -> None:
    today = datetime.now(SHANGHAI).date()
    earliest = today - timedelta(days=settings.loan_date_past_tolerance_days)
    if draft.loan_date < earliest:
        problems.add(
            "loan_date",
            "loan_date_too_early",
            f"借款日期不能早于{earliest:%Y年%m月%d日}",
        )
    latest = today + timedelta(days=settings.loan_date_future_tolerance_days)
    if draft.loan_date > latest:
        problems.add(
            "loan_date",
            "loan_date_too_late",
            f"借款日期不能晚于{latest:%Y年%m月%d日}",
        )
    if (draft.repayment_date is None) == (draft.term_months is None):
        problems.add(
            "repayment_date",
            "period_required",
            "请填写还款日期或借款期限（月）中的一项",
        )
    elif draft.repayment_date is not None and draft.repayment_date <= draft.loan_date:
        problems.add("repayment_date", "repayment_before_loan", "还款日期须晚于借款日期")
    elif (
        draft.repayment_date is not None
        and draft.loan_date <= latest
        and draft.repayment_date > dates.add_months(draft.loan_date, MAX_TERM_MONTHS)
    ):
        problems.add(
            "repayment_date", "repayment_too_late", f"借款期限不能超过{MAX_TERM_MONTHS // 12}年"
        )


def _unprintable_message(chars: list[str]) -> str:
    return f"借条上无法打印这些字符：{text.describe(chars)}，请换一种写法"


def _check_text(draft: IouDraft, problems: _Problems, settings: AgreementsSettings) -> str:
    purpose = draft.purpose.strip()
    if not purpose:
        problems.add("purpose", "purpose_required", "请填写借款事由")
    elif len(purpose) > settings.purpose_max_length or _CONTROL.search(purpose):
        problems.add(
            "purpose",
            "purpose_invalid",
            f"借款事由不超过{settings.purpose_max_length}个字，且不能含控制字符",
        )
    elif bad := text.unprintable(purpose):
        problems.add("purpose", "purpose_unprintable", _unprintable_message(bad))
    if draft.payment_method not in PAYMENT_METHODS:
        problems.add("payment_method", "payment_method_invalid", "请选择支付方式")
    elif draft.payment_method == "other" and not draft.payment_note.strip():
        problems.add("payment_note", "payment_note_required", "选择“其他”时请说明支付方式")
    if _CONTROL.search(draft.payment_note):
        problems.add("payment_note", "payment_note_invalid", "说明中不能含控制字符")
    elif bad := text.unprintable(draft.payment_note.strip()):
        problems.add("payment_note", "payment_note_unprintable", _unprintable_message(bad))
    if draft.repayment_method not in REPAYMENT_METHODS:
        problems.add("repayment_method", "repayment_method_invalid", "请选择还款方式")
    return purpose


def _cap(
    field: str,
    rate: Decimal | None,
    cap: Decimal,
    lpr_rate: Decimal,
    problems: _Problems,
) -> None:
    if rate is not None and rate > cap:
        problems.add(
            field,
            "rate_above_cap",
            f"年利率不得超过借款日一年期LPR的4倍：{lpr_rate}% × 4 = {cap}%",
        )


def _check_verified(
    me: dict[str, str] | None, verified: VerifiedIdentity | None, problems: _Problems
) -> None:
    """Once the caller passed a face check, the initiator must be that person."""
    if me is None or verified is None:
        return
    if me["name"] != verified.name.strip():
        problems.add(
            "me.name",
            "name_not_verified_identity",
            "发起人姓名须与您本账号实名认证（人脸核身）的姓名一致",
        )
    if store.id_number_hash(me["id_number"]) != verified.id_number_hash:
        problems.add(
            "me.id_number",
            "id_number_not_verified_identity",
            "发起人身份证号须与您本账号实名认证（人脸核身）的身份证号一致",
        )


def build_terms(
    draft: IouDraft,
    *,
    caller_phone: str,
    settings: AgreementsSettings,
    verified: VerifiedIdentity | None = None,
) -> dict[str, Any]:
    """The IOU's exact terms from the draft, or :class:`TermsRejected`.

    ``verified`` is the identity the caller's account proved by face check, if any:
    the initiator's name and ID number must then be that identity's.
    """
    problems = _Problems()
    if not draft.notice.accepted:
        problems.add("notice.accepted", "notice_not_accepted", "请先阅读并同意《借条告知书》")
    elif draft.notice.version != settings.notice_version:
        problems.add("notice.version", "notice_outdated", "告知书已更新，请重新阅读后同意")
    me = _person("me", draft.me, problems, phone_default=caller_phone)
    other = _person("counterparty", draft.counterparty, problems)
    if me and me["phone"] != caller_phone:
        problems.add("me.phone", "phone_not_yours", "发起人手机号须为当前登录的手机号")
    _check_verified(me, verified, problems)
    if me and other and (me["id_number"] == other["id_number"] or me["phone"] == other["phone"]):
        problems.add("counterparty", "same_person", "出借人和借款人不能是同一人")
    principal_fen = 0
    try:
        principal_fen = money.parse_yuan(draft.principal, max_yuan=settings.max_principal_yuan)
    except DomainError as exc:
        problems.add("principal", exc.code, exc.message)
    purpose = _check_text(draft, problems, settings)
    _dates(draft, problems, settings)
    annual = _rate("annual_rate", draft.annual_rate, problems)
    overdue = _rate("overdue_rate", draft.overdue_rate, problems)
    problems.raise_if_any()
    assert me is not None and other is not None and annual is not None and overdue is not None

    try:
        in_force = lpr_table(settings.lpr_table_path).rate_in_force(draft.loan_date)
    except DomainError as exc:
        raise TermsRejected(
            [{"field": "loan_date", "code": exc.code, "message": exc.message}]
        ) from exc
    cap = lpr.interest_cap_percent(in_force.rate_percent)
    _cap("annual_rate", annual, cap, in_force.rate_percent, problems)
    _cap("overdue_rate", overdue, cap, in_force.rate_percent, problems)
    problems.raise_if_any()

    try:
        repayment = plan.build_plan(
            method=draft.repayment_method,  # type: ignore[arg-type]
            principal_fen=principal_fen,
            annual_rate_percent=annual,
            loan_date=draft.loan_date,
            repayment_date=draft.repayment_date,
            term_months=draft.term_months,
            day_count=settings.day_count,  # type: ignore[arg-type]
        )
    except DomainError as exc:
        field = "term_months" if draft.term_months else "repayment_date"
        raise TermsRejected([{"field": field, "code": exc.code, "message": exc.message}]) from exc

    lender, borrower = (me, other) if draft.role == "lender" else (other, me)
    return {
        "initiator_role": draft.role,
        "lender": lender,
        "borrower": borrower,
        "principal_fen": principal_fen,
        "principal": money.format_fen_plain(principal_fen),
        "amount_in_words": capitals.amount_in_words(
            principal_fen,
            optional_zero=settings.capitals_optional_zero,
            zheng_after_jiao=settings.capitals_zheng_after_jiao,
        ),
        "purpose": purpose,
        "loan_date": draft.loan_date.isoformat(),
        "repayment_date": repayment.repayment_date.isoformat(),
        "term_months": draft.term_months
        or dates.whole_months_between(draft.loan_date, repayment.repayment_date),
        "annual_rate": f"{annual:.2f}",
        "overdue_rate": f"{overdue:.2f}",
        "interest_free": annual == 0,
        "day_count": settings.day_count,
        "payment_method": draft.payment_method,
        "payment_note": draft.payment_note.strip(),
        "repayment_method": draft.repayment_method,
        "plan": [
            {
                "seq": i.seq,
                "due_date": i.due_date.isoformat(),
                "principal_fen": i.principal_fen,
                "interest_fen": i.interest_fen,
                "total_fen": i.total_fen,
                "remaining_fen": i.remaining_fen,
            }
            for i in repayment.instalments
        ],
        "total_interest_fen": repayment.total_interest_fen,
        "total_fen": repayment.total_fen,
        "lpr": {
            "rate": f"{in_force.rate_percent:.2f}",
            "published_on": in_force.published_on.isoformat(),
            "beyond_last_entry": in_force.beyond_last_entry,
            "cap": f"{cap:.2f}",
        },
    }
