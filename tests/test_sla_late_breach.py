"""A target met to the second is met: the late breach (ack or resolve after the target,
its timer not fired yet) counts only what is *over* the target."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import sla
from bot.config import AppConfig
from bot.tickets.lifecycle import Action, transition
from storage.db import transaction
from storage.models import SlaBreach, Ticket
from tests.test_resolution import LEAD, T0, new_ticket


def breaches(sessions: sessionmaker[Session], ticket_id: int) -> list[str]:
    with sessions() as s:
        return list(s.scalars(select(SlaBreach.clock).where(SlaBreach.ticket_id == ticket_id)))


def step(
    sessions: sessionmaker[Session],
    cfg: AppConfig,
    ticket_id: int,
    action: Action,
    after: timedelta,
) -> Ticket:
    with transaction(sessions) as s:
        ticket = s.get_one(Ticket, ticket_id)
        transition(s, ticket, action, actor=ticket.assignee_id or LEAD, now=T0 + after)
        sla.sync(s, cfg, ticket, T0 + after)
        return ticket


@pytest.mark.parametrize(("over", "breached"), [(0, []), (1, ["tta"])])
def test_an_ack_at_the_target_is_in_time_and_a_second_later_is_not(
    sessions, config, over: int, breached: list[str]
) -> None:  # type: ignore[no-untyped-def]
    tid = new_ticket(sessions, config, severity="sev1")  # 30 minutes to ack, 24x7
    ticket = step(sessions, config, tid, Action.ACKNOWLEDGE, timedelta(minutes=30, seconds=over))
    assert ticket.tta_seconds == 1800 + over
    assert breaches(sessions, tid) == breached


@pytest.mark.parametrize(("over", "breached"), [(0, []), (1, ["ttr"])])
def test_a_resolution_at_the_target_is_in_time_and_a_second_later_is_not(
    sessions, config, over: int, breached: list[str]
) -> None:  # type: ignore[no-untyped-def]
    tid = new_ticket(sessions, config, severity="sev1")  # 8 hours to resolve, 24x7
    step(sessions, config, tid, Action.ACKNOWLEDGE, timedelta(minutes=5))
    ticket = step(sessions, config, tid, Action.RESOLVE, timedelta(hours=8, seconds=over))
    assert ticket.ttr_seconds == 8 * 3600 + over
    assert breaches(sessions, tid) == breached
