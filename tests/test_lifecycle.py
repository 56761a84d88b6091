"""The ticket state machine: every legal transition, every illegal one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.errors import TransitionError
from bot.tickets.lifecycle import KEEPS_WAITING, TRANSITIONS, Action, Status, target, transition
from storage.models import Ticket

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def make_ticket(status: Status, assignee: str | None = "U0ANA") -> Ticket:
    return Ticket(
        id=1,
        number=1,
        key="ESC-1",
        summary="s",
        details="",
        policy_area="hateful_activities",
        severity="sev2",
        sensitive=False,
        status=status.value,
        reporter_id="U0REP",
        assignee_id=assignee,
        created_at=NOW,
        updated_at=NOW,
        version=1,
    )


class FakeSession:
    """Collects what ``transition`` adds; the state machine needs nothing else."""

    def __init__(self) -> None:
        self.added: list[object] = []

    def add(self, obj: object) -> None:
        self.added.append(obj)


LEGAL = [(a, s) for a, (sources, _) in TRANSITIONS.items() for s in sources]
ILLEGAL = [(a, s) for a in Action for s in Status if s not in TRANSITIONS[a][0]]


def test_tables_cover_every_pair() -> None:
    assert len(LEGAL) + len(ILLEGAL) == len(Action) * len(Status)
    assert ILLEGAL, "some transitions must be illegal"


@pytest.mark.parametrize(("action", "status"), LEGAL, ids=lambda v: str(v))
def test_legal_transition_moves_and_audits(action: Action, status: Status) -> None:
    ticket = make_ticket(status, assignee="U0ANA")
    session = FakeSession()
    assignee = "U0BEN" if action is Action.ASSIGN else None
    change = transition(session, ticket, action, actor="U0LEAD", now=NOW, assignee=assignee)  # type: ignore[arg-type]
    keeps = status is Status.WAITING and action in KEEPS_WAITING  # a new owner keeps the wait
    expected = status if keeps else TRANSITIONS[action][1]
    assert ticket.status == expected.value == change.to_status.value
    assert change.from_status is status
    assert session.added == [change.event]
    event = change.event
    assert (event.action, event.actor_id, event.at) == (action.value, "U0LEAD", NOW)
    assert (event.from_status, event.to_status) == (status.value, expected.value)
    assert ticket.updated_at == NOW


@pytest.mark.parametrize(("action", "status"), ILLEGAL, ids=lambda v: str(v))
def test_illegal_transition_raises_readable_error(action: Action, status: Status) -> None:
    ticket = make_ticket(status)
    session = FakeSession()
    with pytest.raises(TransitionError) as err:
        transition(session, ticket, action, actor="U0LEAD", now=NOW, assignee="U0BEN")  # type: ignore[arg-type]
    message = str(err.value)
    assert message.startswith("Can't ") and message.endswith(".")
    assert "Traceback" not in message and "Status." not in message
    assert ticket.status == status.value and session.added == []


def test_assign_sets_owner_and_clears_ack() -> None:
    ticket = make_ticket(Status.ACKNOWLEDGED)
    ticket.acked_at = NOW
    transition(FakeSession(), ticket, Action.ASSIGN, actor="U0LEAD", now=NOW, assignee="U0BEN")  # type: ignore[arg-type]
    assert ticket.assignee_id == "U0BEN" and ticket.acked_at is None


def test_assign_to_same_owner_twice_is_refused() -> None:
    ticket, session = make_ticket(Status.ASSIGNED, assignee="U0BEN"), FakeSession()
    with pytest.raises(TransitionError, match="already assigned"):
        transition(session, ticket, Action.ASSIGN, actor="U0LEAD", now=NOW, assignee="U0BEN")  # type: ignore[arg-type]
    assert (ticket.status, ticket.assignee_id, session.added) == ("assigned", "U0BEN", [])


def test_assign_needs_an_assignee() -> None:
    with pytest.raises(TransitionError, match="Pick someone"):
        transition(FakeSession(), make_ticket(Status.NEW), Action.ASSIGN, actor="U0L", now=NOW)  # type: ignore[arg-type]


def test_take_makes_actor_owner_and_acknowledges() -> None:
    ticket = make_ticket(Status.ASSIGNED, assignee="U0ANA")
    transition(FakeSession(), ticket, Action.TAKE, actor="U0BEN", now=NOW)  # type: ignore[arg-type]
    assert (ticket.assignee_id, ticket.status, ticket.acked_at) == ("U0BEN", "acknowledged", NOW)


def test_double_take_by_owner_is_refused() -> None:
    ticket, session = make_ticket(Status.ACKNOWLEDGED, assignee="U0BEN"), FakeSession()
    acked = ticket.acked_at
    with pytest.raises(TransitionError, match="already own"):
        transition(session, ticket, Action.TAKE, actor="U0BEN", now=NOW)  # type: ignore[arg-type]
    assert (ticket.status, ticket.acked_at, session.added) == ("acknowledged", acked, [])


def test_resolve_then_reopen_keeps_first_ack_time() -> None:
    ticket = make_ticket(Status.ASSIGNED)
    transition(FakeSession(), ticket, Action.RESOLVE, actor="U0ANA", now=NOW)  # type: ignore[arg-type]
    assert ticket.resolved_at == NOW and ticket.acked_at == NOW
    transition(FakeSession(), ticket, Action.REOPEN, actor="U0REP", now=NOW)  # type: ignore[arg-type]
    assert ticket.resolved_at is None and ticket.acked_at == NOW and ticket.status == "reopened"


def test_target_names_the_reason() -> None:
    with pytest.raises(TransitionError, match="already resolved"):
        target(Action.ACKNOWLEDGE, Status.RESOLVED)
