"""Who may Ack / Take / Reassign, and how refusals are audited (through the domain entry points).

Refusals are audited at most once per person, ticket and verb a minute, so
a script hammering a button cannot bury the ticket's real history; and pods are
walled off from each other: being in *a* pod does not let you work another's tickets.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.core.clock import FakeClock
from bot.core.desk import Desk
from bot.core.errors import NotAllowed
from bot.core.render import Renderer
from bot.routing import ownership
from bot.tickets.permissions import AUDIT_WINDOW
from storage.models import Ticket, TicketEvent
from tests.desk import (
    FRAUD_ANALYST,
    FRAUD_LEAD,
    FRAUDSTER,
    LUCIA,
    MORNING,
    PARTNER,
    WANJIRU,
    desk_at,
    new_ticket,
)
from tests.desk import two_pods as make_two_pods


@pytest.fixture(scope="module")
def two_pods() -> AppConfig:
    return make_two_pods()


def refusals(sessions: sessionmaker[Session], ticket_id: int) -> list[tuple[str, str]]:
    with sessions() as s:
        rows = s.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.action == "refused")
            .order_by(TicketEvent.id)
        )
        return [(e.actor_id, e.payload["doing"]) for e in rows]


def owner(sessions: sessionmaker[Session], ticket_id: int) -> str | None:
    with sessions() as s:
        return s.get_one(Ticket, ticket_id).assignee_id


def test_a_refused_take_clicked_30_times_is_audited_once_per_window(
    sessions: sessionmaker[Session], config
) -> None:
    renderer = Renderer(config.team_tz)
    t = new_ticket(sessions, config, renderer, MORNING)
    clock = FakeClock(MORNING)
    desk = Desk(sessions, config, renderer, clock)
    for _ in range(30):
        with pytest.raises(NotAllowed, match="Only members of the Critical Harms pod"):
            ownership.take_ticket(desk, t.key, PARTNER)
        clock.advance(timedelta(seconds=2))
    assert refusals(sessions, t.id) == [(PARTNER, "take")]
    # another verb, or another person, is a line of its own
    with pytest.raises(NotAllowed):
        ownership.reassign_options(desk, t.key, PARTNER)
    with pytest.raises(NotAllowed):
        ownership.acknowledge_ticket(desk, t.key, WANJIRU)
    assert len(refusals(sessions, t.id)) == 3
    clock.set(MORNING + AUDIT_WINDOW + timedelta(seconds=1))
    for _ in range(5):
        with pytest.raises(NotAllowed):
            ownership.take_ticket(desk, t.key, PARTNER)
    assert refusals(sessions, t.id).count((PARTNER, "take")) == 2
    assert owner(sessions, t.id) == LUCIA


@pytest.mark.parametrize("outsider", [FRAUDSTER, FRAUD_LEAD])
def test_another_pods_people_cannot_take_or_reassign_critical_harms_tickets(
    sessions: sessionmaker[Session], two_pods: AppConfig, outsider: str
) -> None:
    desk = desk_at(sessions, two_pods, MORNING)
    t = new_ticket(sessions, two_pods, desk.renderer, MORNING)
    assert t.assignee_id == LUCIA

    def only(verb: str) -> str:
        return re.escape(f"Only members of the Critical Harms pod (and escbot admins) can {verb} ")

    with pytest.raises(NotAllowed, match=only("take")):
        ownership.take_ticket(desk, t.key, outsider)
    with pytest.raises(NotAllowed, match=only("reassign")):
        ownership.reassign_options(desk, t.key, outsider)
    with pytest.raises(NotAllowed, match=only("reassign")):
        ownership.reassign_ticket(
            desk, t.key, outsider, to=WANJIRU, reason="ours now", submission="view-1"
        )
    assert owner(sessions, t.id) == LUCIA
    assert refusals(sessions, t.id) == [(outsider, "take"), (outsider, "reassign")]


def test_each_pod_works_its_own_tickets(
    sessions: sessionmaker[Session], two_pods: AppConfig
) -> None:
    desk = desk_at(sessions, two_pods, MORNING)
    t = new_ticket(
        sessions, two_pods, desk.renderer, MORNING, area="scams", language="en", summary="Scam"
    )
    first = t.assignee_id
    assert first in (FRAUDSTER, FRAUD_ANALYST)
    other = FRAUD_ANALYST if first == FRAUDSTER else FRAUDSTER
    ownership.take_ticket(desk, t.key, other)
    assert owner(sessions, t.id) == other
    options = ownership.reassign_options(desk, t.key, other)
    assert first in [o["value"] for g in options["groups"] for o in g["options"]]
    ownership.reassign_ticket(
        desk, t.key, other, to=first, reason="back to you", submission="view-1"
    )
    assert owner(sessions, t.id) == first
    with pytest.raises(NotAllowed, match="Only members of the Trust and Fraud pod"):
        ownership.take_ticket(desk, t.key, LUCIA)
    assert refusals(sessions, t.id) == [(LUCIA, "take")]
