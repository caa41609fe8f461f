"""From what a person typed to the exact terms of an IOU, or field-level errors.

Every field is checked and every problem reported at once, by field name, with a
machine code and a Chinese message. The derived terms (capital numerals, plan,
LPR cap) are computed by the pure domain functions and stored with the IOU, so
the document, the API and the reminders all read the same numbers.
"""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from jietiao_shared.personal import (
    PersonalDataError,
    normalise_id_number,
    normalise_phone,
)
from pydantic import BaseModel, Field

from .domain import capitals, dates, lpr, money, plan
from .settings import AgreementsSettings

PAYMENT_METHODS = ("bank_transfer", "wechat_transfer", "alipay_transfer", "cash", "other")
REPAYMENT_METHODS = ("lump_sum", "equal_instalments", "equal_principal", "interest_first")


class NoticeAcceptance(BaseModel):
    """The initiator read and accepted the IOU notice (小借条告知书)."""

    version: str = Field(min_length=1, max_length=20)
    accepted: bool


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
    term_months: int | None = Field(default=None, ge=1, le=360)
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
