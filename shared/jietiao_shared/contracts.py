"""Message contracts: subjects, the envelope and every payload on the bus.

Subjects follow ``jietiao.<kind>.<owner>.<entity>.<verb>``: ``kind`` is ``evt``
(a past fact, published by its owner) or ``cmd`` (an imperative, executed by its
owner). Events are named in the past tense, commands in the imperative. A payload
carries ids and hashes, not documents; the only bytes on the bus are a signature
PNG (a few KB) so that documents can place it without calling signing.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

EVENTS_STREAM = "JIETIAO_EVENTS"
COMMANDS_STREAM = "JIETIAO_COMMANDS"
DEAD_LETTER_STREAM = "JIETIAO_DEAD_LETTERS"
EVENTS_SUBJECTS = "jietiao.evt.>"
COMMANDS_SUBJECTS = "jietiao.cmd.>"
DEAD_LETTER_PREFIX = "jietiao.dlq"

PartyRole = Literal["lender", "borrower"]
VerificationAction = Literal["sign", "request_void", "confirm_void"]
DocumentKind = Literal["preview", "signed", "voided"]


class Contract(BaseModel):
    """Base of every payload: strict about unknown fields, frozen once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Envelope(BaseModel):
    """What travels on the wire: ids for tracing and deduplication around a payload."""

    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: str
    schema_version: int = SCHEMA_VERSION
    correlation_id: str | None = None
    causation_id: str | None = None
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    data: dict[str, Any]


# --- identity ---------------------------------------------------------------


class VerificationPassed(Contract):
    """A person passed a face check bound to one agreement, party and action."""

    verification_id: str
    agreement_id: str
    party_role: PartyRole
    action: VerificationAction
    account_id: str
    account_phone: str
    verified_name: str
    id_number_sha256: str
    provider: str
    passed_at: datetime


class VerificationFailed(Contract):
    """A face check ended without a match; the reason is a code, not personal data."""

    verification_id: str
    agreement_id: str
    party_role: PartyRole
    action: VerificationAction
    account_id: str
    reason: str
    failed_at: datetime


# --- signing ----------------------------------------------------------------


class SignatureCaptured(Contract):
    """A handwritten signature was accepted and rendered for one document version."""

    signature_id: str
    agreement_id: str
    party_role: PartyRole
    account_id: str
    account_phone: str
    document_sha256: str
    strokes_sha256: str
    png_sha256: str
    png_base64: str
    signed_at: datetime
    user_agent: str
    client_ip: str


# --- documents --------------------------------------------------------------


class SignatureOnDocument(Contract):
    """Where a captured signature goes on a rendered document."""

    signature_id: str
    party_role: PartyRole
    name: str
    signed_at: datetime
    document_sha256: str
    verification_id: str


class AuditLine(Contract):
    """One line of the audit trail printed on the evidence page."""

    at: datetime
    actor: str
    action: str
    detail: str = ""


class RenderDocument(Contract):
    """Render (or re-render idempotently) one kind of document for an agreement."""

    agreement_id: str
    kind: DocumentKind
    version: int
    terms: dict[str, Any]
    readers: list[str]
    signatures: list[SignatureOnDocument] = []
    audit: list[AuditLine] = []
    audit_head: str = ""
    voided: dict[str, Any] | None = None


class SupersedePreviews(Contract):
    """Mark an agreement's preview documents as no longer signable."""

    agreement_id: str
    reason: str


class DocumentRendered(Contract):
    """A document is stored and can be downloaded; its hash is what gets signed."""

    agreement_id: str
    kind: DocumentKind
    version: int
    sha256: str
    size: int
    rendered_at: datetime


# --- notify -----------------------------------------------------------------

SmsKind = Literal[
    "login_code",
    "invitation",
    "signed",
    "refused",
    "withdrawn",
    "expired",
    "void_requested",
    "void_cancelled",
    "void_refused",
    "voided",
    "repayment_due",
]


class SendSms(Contract):
    """Send one templated SMS; ``params`` fill the template of ``kind``."""

    kind: SmsKind
    phone: str
    params: dict[str, str] = {}
    agreement_id: str | None = None


class IssueShareLink(Contract):
    """Create the share link that lets a counterparty open an agreement."""

    agreement_id: str
    party_role: PartyRole
    holder_phone: str
    owner_phones: list[str]
    purpose: Literal["sign", "answer_void"] = "sign"


class ReminderInstalment(Contract):
    """One due date of the repayment plan."""

    seq: int
    due_date: str
    total_fen: int


class ScheduleReminders(Contract):
    """Plan repayment SMS to the borrower, one per instalment."""

    agreement_id: str
    borrower_phone: str
    borrower_name: str
    instalments: list[ReminderInstalment]


class CancelReminders(Contract):
    """Drop every reminder not yet sent for an agreement."""

    agreement_id: str
    reason: str


class CloseFlow(Contract):
    """An agreement's flow ended before effect: revoke links, drop queued SMS."""

    agreement_id: str
    ending: str


class SmsDelivered(Contract):
    """The provider accepted an SMS."""

    sms_id: str
    kind: SmsKind
    agreement_id: str | None
    provider: str


# --- compensations ----------------------------------------------------------

Compensation = Literal["close_flow", "cancel_reminders", "supersede_previews"]


class CompensationCompleted(Contract):
    """A service finished undoing its part of a flow that ended."""

    agreement_id: str
    compensation: Compensation
    completed_at: datetime
    detail: str = ""


# --- agreements -------------------------------------------------------------


class IouStatusChanged(Contract):
    """An IOU moved from one status to another."""

    agreement_id: str
    status: str
    previous: str | None
    changed_at: datetime


class Subject:
    """Every subject on the bus, with the payload it carries."""

    VERIFICATION_PASSED = "jietiao.evt.identity.verification.passed"
    VERIFICATION_FAILED = "jietiao.evt.identity.verification.failed"
    SIGNATURE_CAPTURED = "jietiao.evt.signing.signature.captured"
    DOCUMENT_RENDERED = "jietiao.evt.documents.document.rendered"
    SMS_DELIVERED = "jietiao.evt.notify.sms.delivered"
    IOU_STATUS_CHANGED = "jietiao.evt.agreements.iou.status_changed"
    NOTIFY_COMPENSATED = "jietiao.evt.notify.compensation.completed"
    DOCUMENTS_COMPENSATED = "jietiao.evt.documents.compensation.completed"
    RENDER_DOCUMENT = "jietiao.cmd.documents.document.render"
    SUPERSEDE_PREVIEWS = "jietiao.cmd.documents.preview.supersede"
    SEND_SMS = "jietiao.cmd.notify.sms.send"
    ISSUE_SHARE_LINK = "jietiao.cmd.notify.share_link.issue"
    SCHEDULE_REMINDERS = "jietiao.cmd.notify.reminders.schedule"
    CANCEL_REMINDERS = "jietiao.cmd.notify.reminders.cancel"
    CLOSE_FLOW = "jietiao.cmd.notify.flow.close"


PAYLOADS: dict[str, type[Contract]] = {
    Subject.VERIFICATION_PASSED: VerificationPassed,
    Subject.VERIFICATION_FAILED: VerificationFailed,
    Subject.SIGNATURE_CAPTURED: SignatureCaptured,
    Subject.DOCUMENT_RENDERED: DocumentRendered,
    Subject.SMS_DELIVERED: SmsDelivered,
    Subject.IOU_STATUS_CHANGED: IouStatusChanged,
    Subject.RENDER_DOCUMENT: RenderDocument,
    Subject.SUPERSEDE_PREVIEWS: SupersedePreviews,
    Subject.SEND_SMS: SendSms,
    Subject.ISSUE_SHARE_LINK: IssueShareLink,
    Subject.SCHEDULE_REMINDERS: ScheduleReminders,
    Subject.CANCEL_REMINDERS: CancelReminders,
    Subject.CLOSE_FLOW: CloseFlow,
    Subject.NOTIFY_COMPENSATED: CompensationCompleted,
    Subject.DOCUMENTS_COMPENSATED: CompensationCompleted,
}


def stream_for(subject: str) -> str:
    """The stream that captures a subject."""
    if subject.startswith("jietiao.evt."):
        return EVENTS_STREAM
    if subject.startswith("jietiao.cmd."):
        return COMMANDS_STREAM
    if subject.startswith(DEAD_LETTER_PREFIX + "."):
        return DEAD_LETTER_STREAM
    raise ValueError(f"no stream captures subject {subject!r}")


SENT_BY: dict[str, tuple[str, ...]] = {
    Subject.VERIFICATION_PASSED: ("identity",),
    Subject.VERIFICATION_FAILED: ("identity",),
    Subject.SIGNATURE_CAPTURED: ("signing",),
    Subject.DOCUMENT_RENDERED: ("documents",),
    Subject.SMS_DELIVERED: ("notify",),
    Subject.IOU_STATUS_CHANGED: ("agreements",),
    Subject.NOTIFY_COMPENSATED: ("notify",),
    Subject.DOCUMENTS_COMPENSATED: ("documents",),
    Subject.RENDER_DOCUMENT: ("agreements",),
    Subject.SUPERSEDE_PREVIEWS: ("agreements",),
    Subject.SEND_SMS: ("agreements", "identity"),
    Subject.ISSUE_SHARE_LINK: ("agreements",),
    Subject.SCHEDULE_REMINDERS: ("agreements",),
    Subject.CANCEL_REMINDERS: ("agreements",),
    Subject.CLOSE_FLOW: ("agreements",),
}
"""Which services publish each subject (through their outbox)."""


@dataclass(frozen=True)
class ConsumerSpec:
    """One durable consumer of the platform: who reads which subject."""

    service: str
    name: str
    subject: str

    @property
    def durable(self) -> str:
        """The durable's name on the server: ``<service>-<name>``."""
        return f"{self.service}-{self.name}"

    @property
    def stream(self) -> str:
        """The stream the durable reads from."""
        return stream_for(self.subject)


CONSUMERS: tuple[ConsumerSpec, ...] = (
    ConsumerSpec("agreements", "signature-captured", Subject.SIGNATURE_CAPTURED),
    ConsumerSpec("agreements", "verification-passed", Subject.VERIFICATION_PASSED),
    ConsumerSpec("agreements", "document-rendered", Subject.DOCUMENT_RENDERED),
    ConsumerSpec("agreements", "notify-compensated", Subject.NOTIFY_COMPENSATED),
    ConsumerSpec("agreements", "documents-compensated", Subject.DOCUMENTS_COMPENSATED),
    ConsumerSpec("documents", "signature-captured", Subject.SIGNATURE_CAPTURED),
    ConsumerSpec("documents", "render-document", Subject.RENDER_DOCUMENT),
    ConsumerSpec("documents", "supersede-previews", Subject.SUPERSEDE_PREVIEWS),
    ConsumerSpec("notify", "sms-send", Subject.SEND_SMS),
    ConsumerSpec("notify", "share-link-issue", Subject.ISSUE_SHARE_LINK),
    ConsumerSpec("notify", "reminders-schedule", Subject.SCHEDULE_REMINDERS),
    ConsumerSpec("notify", "reminders-cancel", Subject.CANCEL_REMINDERS),
    ConsumerSpec("notify", "flow-close", Subject.CLOSE_FLOW),
)
"""Every durable consumer, declared once: the provisioning step creates and updates
them; a service binds to its own and refuses to start with one missing or
undeclared."""

RETIRED_CONSUMERS: tuple[tuple[str, str], ...] = ()
"""``(stream, durable)`` of consumers a release stopped using: the provisioning step
deletes them. Nothing else is ever deleted, so durables an operator added survive."""
