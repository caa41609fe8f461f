"""The IOU's life, declared in one place: statuses, steps and who may take them.

Every change of status goes through :func:`next_status`; a step that the table
does not allow from the current status is a :class:`Conflict`, answered as HTTP
409 with the current status, never a silent no-op.
"""

from enum import StrEnum


class Status(StrEnum):
    """Where an IOU stands."""

    DRAFT = "draft"
    AWAITING_INITIATOR = "awaiting_initiator"
    AWAITING_COUNTERPARTY = "awaiting_counterparty"
    EFFECTIVE = "effective"
    VOID_REQUESTED = "void_requested"
    VOIDED = "voided"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"
    EXPIRED = "expired"


class Step(StrEnum):
    """What can happen to an IOU."""

    PREVIEW_RENDERED = "preview_rendered"
    INITIATOR_SIGNED = "initiator_signed"
    COUNTERPARTY_SIGNED = "counterparty_signed"
    WITHDRAW = "withdraw"
    REFUSE = "refuse"
    EXPIRE = "expire"
    VOID_OPENED = "void_opened"
    VOID_CANCELLED = "void_cancelled"
    VOID_REFUSED = "void_refused"
    VOID_CONFIRMED = "void_confirmed"


UNSIGNED = (Status.DRAFT, Status.AWAITING_INITIATOR, Status.AWAITING_COUNTERPARTY)

TRANSITIONS: dict[tuple[Status, Step], Status] = {
    (Status.DRAFT, Step.PREVIEW_RENDERED): Status.AWAITING_INITIATOR,
    (Status.AWAITING_INITIATOR, Step.INITIATOR_SIGNED): Status.AWAITING_COUNTERPARTY,
    (Status.AWAITING_COUNTERPARTY, Step.COUNTERPARTY_SIGNED): Status.EFFECTIVE,
    (Status.AWAITING_COUNTERPARTY, Step.REFUSE): Status.REFUSED,
    (Status.EFFECTIVE, Step.VOID_OPENED): Status.VOID_REQUESTED,
    (Status.VOID_REQUESTED, Step.VOID_CANCELLED): Status.EFFECTIVE,
    (Status.VOID_REQUESTED, Step.VOID_REFUSED): Status.EFFECTIVE,
    (Status.VOID_REQUESTED, Step.VOID_CONFIRMED): Status.VOIDED,
    **{(s, Step.WITHDRAW): Status.WITHDRAWN for s in UNSIGNED},
    **{(s, Step.EXPIRE): Status.EXPIRED for s in UNSIGNED},
}

ENDINGS = frozenset({Status.VOIDED, Status.WITHDRAWN, Status.REFUSED, Status.EXPIRED})

FOLDER_FILTERS: dict[str, tuple[Status, ...]] = {
    "effective": (Status.EFFECTIVE,),
    "void_requested": (Status.VOID_REQUESTED,),
    "ended": tuple(ENDINGS),
    "unsigned": UNSIGNED,
}


class Conflict(Exception):
    """A step that the IOU's current status does not allow."""

    def __init__(self, status: str, step: str, message: str = "") -> None:
        super().__init__(f"{step} not allowed in {status}")
        self.status = status
        self.step = step
        self.message = message or "借条当前状态不允许此操作"


def next_status(current: str, step: Step) -> Status:
    """The status after ``step``, or :class:`Conflict`."""
    try:
        return TRANSITIONS[(Status(current), step)]
    except KeyError:
        raise Conflict(current, step) from None


def other_role(role: str) -> str:
    """The other party's role."""
    return "borrower" if role == "lender" else "lender"
