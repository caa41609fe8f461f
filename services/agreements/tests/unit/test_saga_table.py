"""The IOU's transition table: what each status allows, and nothing more."""

import itertools

import pytest
from agreements.domain.saga import (
    ENDINGS,
    TRANSITIONS,
    UNSIGNED,
    Conflict,
    Status,
    Step,
    next_status,
    other_role,
)

LEGAL = {
    (Status.DRAFT, Step.PREVIEW_RENDERED): Status.AWAITING_INITIATOR,
    (Status.DRAFT, Step.WITHDRAW): Status.WITHDRAWN,
    (Status.DRAFT, Step.EXPIRE): Status.EXPIRED,
    (Status.AWAITING_INITIATOR, Step.INITIATOR_SIGNED): Status.AWAITING_COUNTERPARTY,
    (Status.AWAITING_INITIATOR, Step.WITHDRAW): Status.WITHDRAWN,
    (Status.AWAITING_INITIATOR, Step.EXPIRE): Status.EXPIRED,
    (Status.AWAITING_COUNTERPARTY, Step.COUNTERPARTY_SIGNED): Status.EFFECTIVE,
    (Status.AWAITING_COUNTERPARTY, Step.REFUSE): Status.REFUSED,
    (Status.AWAITING_COUNTERPARTY, Step.WITHDRAW): Status.WITHDRAWN,
    (Status.AWAITING_COUNTERPARTY, Step.EXPIRE): Status.EXPIRED,
    (Status.EFFECTIVE, Step.VOID_OPENED): Status.VOID_REQUESTED,
    (Status.VOID_REQUESTED, Step.VOID_CANCELLED): Status.EFFECTIVE,
    (Status.VOID_REQUESTED, Step.VOID_REFUSED): Status.EFFECTIVE,
    (Status.VOID_REQUESTED, Step.VOID_CONFIRMED): Status.VOIDED,
}
"""Written out by hand from the specification, independently of the table."""

ILLEGAL = [pair for pair in itertools.product(Status, Step) if pair not in LEGAL]


@pytest.mark.parametrize(("start", "step"), list(LEGAL))
def test_every_legal_step_leads_where_the_specification_says(start: Status, step: Step) -> None:
    assert next_status(start, step) is LEGAL[(start, step)]
    assert next_status(str(start), step) is LEGAL[(start, step)], "plain strings too"


@pytest.mark.parametrize(("start", "step"), ILLEGAL)
def test_every_illegal_step_is_a_conflict_naming_the_current_status(
    start: Status, step: Step
) -> None:
    with pytest.raises(Conflict) as raised:
        next_status(start, step)
    assert raised.value.status == start
    assert raised.value.step == step
    assert raised.value.message, "the caller is told why, in words"


def test_the_table_holds_exactly_the_legal_steps() -> None:
    assert TRANSITIONS == LEGAL


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_an_ending_has_no_way_out(ending: Status) -> None:
    for step in Step:
        with pytest.raises(Conflict):
            next_status(ending, step)


def test_the_endings_are_the_four_final_statuses() -> None:
    assert {Status.VOIDED, Status.WITHDRAWN, Status.REFUSED, Status.EXPIRED} == set(ENDINGS)
    reachable = set(LEGAL.values())
    assert set(ENDINGS) <= reachable, "every ending can be reached"


def test_every_unsigned_status_can_be_withdrawn_or_expire_and_no_other() -> None:
    withdrawable = {s for (s, step) in LEGAL if step is Step.WITHDRAW}
    expirable = {s for (s, step) in LEGAL if step is Step.EXPIRE}
    assert withdrawable == expirable == set(UNSIGNED)


def test_a_signed_iou_can_only_end_by_voiding() -> None:
    signed = {Status.EFFECTIVE, Status.VOID_REQUESTED}
    ways_out = {LEGAL[(s, step)] for (s, step) in LEGAL if s in signed}
    assert ways_out & set(ENDINGS) == {Status.VOIDED}


def test_every_status_is_reachable_from_a_draft() -> None:
    reached, frontier = {Status.DRAFT}, [Status.DRAFT]
    while frontier:
        current = frontier.pop()
        for (start, _), end in LEGAL.items():
            if start is current and end not in reached:
                reached.add(end)
                frontier.append(end)
    assert reached == set(Status)


@pytest.mark.parametrize(("role", "other"), [("lender", "borrower"), ("borrower", "lender")])
def test_the_other_role_is_the_other_side(role: str, other: str) -> None:
    assert other_role(role) == other
