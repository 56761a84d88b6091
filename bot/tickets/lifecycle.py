"""The ticket state machine, and the one function that moves a ticket.

States::

    new ─assign→ assigned ─acknowledge→ acknowledged ⇄ waiting_on_reporter ⟲ assign/take
     │             │  ↖──── assign (reassign / escalation step) ───┘│
     └── take ─────┴──────────→ acknowledged                       │
    {assigned, acknowledged, waiting_on_reporter, reopened} ─resolve→ resolved
    resolved ─reopen→ reopened ─acknowledge/take/assign→ …

Every transition appends a ``TicketEvent`` in the caller's transaction, so a
change and its audit line commit or roll back together. Time comes from the
caller (an injected clock), never from the system.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from bot.core.errors import TransitionError
from bot.core.logs import ticket_var
from storage.models import Ticket, TicketEvent


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    WAITING = "waiting_on_reporter"
    RESOLVED = "resolved"
    REOPENED = "reopened"


class Action(StrEnum):
    ASSIGN = "assign"
    TAKE = "take"
    ACKNOWLEDGE = "acknowledge"
    WAIT = "wait_on_reporter"
    RESUME = "resume"
    RESOLVE = "resolve"
    REOPEN = "reopen"


OPEN_STATUSES: tuple[Status, ...] = (
    Status.NEW,
    Status.ASSIGNED,
    Status.ACKNOWLEDGED,
    Status.WAITING,
    Status.REOPENED,
)

_ACTIVE = {Status.ASSIGNED, Status.ACKNOWLEDGED, Status.WAITING, Status.REOPENED}
#: A new owner of a ticket waiting on its reporter keeps the wait: the question is still
#: open, the clocks stay paused, and the reporter's answer still resumes it.
KEEPS_WAITING = frozenset({Action.ASSIGN, Action.TAKE})

#: action → (statuses it may start from, status it leads to)
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    Action.ASSIGN: (frozenset({Status.NEW, *_ACTIVE}), Status.ASSIGNED),
    Action.TAKE: (frozenset({Status.NEW, *_ACTIVE}), Status.ACKNOWLEDGED),
    Action.ACKNOWLEDGE: (frozenset({Status.ASSIGNED, Status.REOPENED}), Status.ACKNOWLEDGED),
    Action.WAIT: (frozenset({Status.ASSIGNED, Status.ACKNOWLEDGED}), Status.WAITING),
    Action.RESUME: (frozenset({Status.WAITING}), Status.ACKNOWLEDGED),
    Action.RESOLVE: (frozenset(_ACTIVE), Status.RESOLVED),
    Action.REOPEN: (frozenset({Status.RESOLVED}), Status.REOPENED),
}

_LABELS = {
    Status.NEW: "new",
    Status.ASSIGNED: "assigned",
    Status.ACKNOWLEDGED: "acknowledged",
    Status.WAITING: "waiting on the reporter",
    Status.RESOLVED: "resolved",
    Status.REOPENED: "reopened",
}

_WHY_NOT = {
    Status.NEW: "it has no owner yet",
    Status.RESOLVED: "it is already resolved (reopen it first)",
    Status.ACKNOWLEDGED: "it is already acknowledged",
    Status.WAITING: "it is waiting on the reporter",
    Status.ASSIGNED: "it has not been acknowledged yet",
    Status.REOPENED: "it has been reopened",
}


def status_label(status: str) -> str:
    return _LABELS.get(Status(status), status)


def is_open(status: str) -> bool:
    return Status(status) in OPEN_STATUSES


def target(action: Action, current: Status) -> Status:
    """Where ``action`` leads from ``current``; TransitionError if it can't."""
    sources, to = TRANSITIONS[action]
    if current not in sources:
        raise TransitionError(
            f"Can't {action.value.replace('_', ' ')} this ticket: {_WHY_NOT[current]}."
        )
    return current if current is Status.WAITING and action in KEEPS_WAITING else to


@dataclass(frozen=True)
class Change:
    """What a transition did, for cards, thread lines and notifications."""

    ticket: Ticket
    event: TicketEvent
    from_status: Status
    to_status: Status


def transition(
    session: Session,
    ticket: Ticket,
    action: Action,
    *,
    actor: str,
    now: datetime,
    assignee: str | None = None,
    payload: dict[str, Any] | None = None,
) -> Change:
    """Apply ``action`` to ``ticket`` and append its audit event.

    ``assignee`` is required for ASSIGN (the new owner); TAKE makes ``actor``
    the owner. Same-owner reassignments are refused so a double click can't
    write two events.
    """
    current = Status(ticket.status)
    to = target(action, current)
    ticket_key = ticket.key
    if action is Action.ASSIGN:
        if not assignee:
            raise TransitionError("Pick someone to assign the ticket to.")
        if assignee == ticket.assignee_id and current in (Status.ASSIGNED, Status.WAITING):
            raise TransitionError(f"{ticket_key} is already assigned to <@{assignee}>.")
        ticket.assignee_id = assignee
        ticket.assigned_at = now
        if to is not Status.WAITING:  # a waiting ticket was worked on: no new ack to wait for
            ticket.acked_at = None
    elif action is Action.TAKE:
        if ticket.assignee_id == actor and current in (Status.ACKNOWLEDGED, Status.WAITING):
            raise TransitionError(f"You already own {ticket_key}.")
        ticket.assignee_id = actor
        ticket.assigned_at = now
        _acknowledge(ticket, actor, now)
    elif action in (Action.ACKNOWLEDGE, Action.WAIT):  # asking the reporter is working on it
        _acknowledge(ticket, actor, now)
    elif action is Action.RESOLVE:
        _acknowledge(ticket, actor, now)
        ticket.resolved_at = now
    elif action is Action.REOPEN:
        ticket.resolved_at = None

    ticket.status = to.value
    ticket.updated_at = now
    event = record(
        session,
        ticket,
        action.value,
        actor=actor,
        now=now,
        from_status=current.value,
        to_status=to.value,
        payload={**(payload or {}), **({"assignee": ticket.assignee_id} if assignee else {})},
    )
    return Change(ticket=ticket, event=event, from_status=current, to_status=to)


def _acknowledge(ticket: Ticket, actor: str, now: datetime) -> None:
    """The current owner's ack (cleared by a reassignment), and the ticket's first one,
    which nothing clears: TTA and every KPI count that one, so a later reassignment
    or reopen never moves a past day's figures."""
    ticket.acked_at = ticket.acked_at or now
    if ticket.first_acked_at is None:
        ticket.first_acked_at, ticket.first_acked_by = now, actor


def record(
    session: Session,
    ticket: Ticket,
    action: str,
    *,
    actor: str,
    now: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    payload: dict[str, Any] | None = None,
) -> TicketEvent:
    """Append an audit event without a status change (comments, watchers, notices)."""
    ticket_var.set(ticket.key)  # later log lines of this request or timer name the ticket
    event = TicketEvent(
        ticket=ticket,
        at=now,
        actor_id=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        payload=payload or {},
    )
    session.add(event)
    return event
