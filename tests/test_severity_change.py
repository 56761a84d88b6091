"""Changing a ticket's severity: ``/escalate sev``, the card's modal, due times counted again
from the opening under the new targets, routing upward to the on-call, never downward, and
past digests that don't move."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot import sla
from bot.core.errors import DomainError
from bot.core.render import Renderer
from bot.reporting.periods import period_containing
from bot.reporting.present import make_digest
from bot.resolution import questions
from bot.routing import ownership, severity
from bot.tickets import lookup
from storage.db import transaction
from storage.models import Ticket, TicketEvent
from tests.desk import INTAKE, LEAD, PARTNER, desk_at, new_ticket
from tests.outbox_support import drain

NIGHT = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # Thu 03:00: nobody with the skill on shift
LAST_WEEK = datetime(2026, 11, 17, 10, 0, tzinfo=UTC)  # Tue of the week before


def answer(fake_slack, mark: int) -> str:  # type: ignore[no-untyped-def]
    reply = fake_slack.wait_for("response_url", since=mark)
    assert reply.args.get("response_type") == "ephemeral"
    return json.dumps(reply.args, ensure_ascii=False)


def events(sessions, ticket_id: int, action: str) -> list[TicketEvent]:  # type: ignore[no-untyped-def]
    with sessions() as s:
        return list(
            s.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket_id, TicketEvent.action == action)
                .order_by(TicketEvent.id)
            )
        )


def test_a_sev3_raised_to_sev0_over_http_gets_sev0_due_times_and_the_oncall(
    escbot, fake_slack, config, clock, user_factory
) -> None:
    services = escbot.services
    clock.set(NIGHT)
    ticket = new_ticket(services.sessions, config, services.renderer, NIGHT, severity="sev3")
    assert ticket.assignee_id == LEAD  # nobody eligible at night: the lead's fallback
    assert drain(services.outbox)
    clock.set(NIGHT + timedelta(minutes=10))
    mark = fake_slack.mark()
    user_factory(LEAD).command(
        "/escalate", f"sev {ticket.key} sev0 Livestream of the attack is still up"
    )
    said = answer(fake_slack, mark)
    assert f"*{ticket.key}* raised from SEV3 to SEV0 by <@{LEAD}>" in said
    oncall = config.oncall("critical_harms", NIGHT)
    with services.sessions() as s:
        row = s.get_one(Ticket, ticket.id)
        assert (row.severity, row.assignee_id) == ("sev0", oncall)
        assert sla.due(config, row, sla.TTR) == NIGHT + timedelta(hours=4)
    [changed] = events(services.sessions, ticket.id, "severity")
    assert changed.actor_id == LEAD
    assert changed.payload == {
        "from": "sev3",
        "to": "sev0",
        "reason": "Livestream of the attack is still up",
    }
    [_, rerouted] = events(services.sessions, ticket.id, "assign")
    assert rerouted.payload["severity"] == "sev0"
    assert drain(services.outbox)
    [card] = [m for m in fake_slack.messages(INTAKE) if ticket.key in m.blocks[0]["text"]["text"]]
    shown = json.dumps(card.blocks, ensure_ascii=False)
    assert f"SEV0 · {ticket.key}" in shown and f"Owner <@{oncall}>" in shown
    thread = json.dumps([m.blocks for m in fake_slack.thread(INTAKE, card.ts)])
    assert f"*{ticket.key}* raised from SEV3 to SEV0 by <@{LEAD}>" in thread
    told = json.dumps([m.blocks for m in fake_slack.dms(oncall)], ensure_ascii=False)
    assert "raised from SEV3 to SEV0" in told and "counted from its opening under SEV0" in told


def test_the_reason_is_required_and_only_the_pod_may(
    escbot, fake_slack, config, clock, user_factory
) -> None:
    services = escbot.services
    ticket = new_ticket(services.sessions, config, services.renderer, clock.now(), severity="sev2")
    mark = fake_slack.mark()
    user_factory(LEAD).command("/escalate", f"sev {ticket.key} sev1")
    assert "Give the ticket, the new severity and why" in answer(fake_slack, mark)
    mark = fake_slack.mark()
    user_factory(PARTNER).command("/escalate", f"sev {ticket.key} sev0 please hurry")
    assert "Only members of the Critical Harms pod" in answer(fake_slack, mark)
    with services.sessions() as s:
        assert s.get_one(Ticket, ticket.id).severity == "sev2"
    assert events(services.sessions, ticket.id, "severity") == []


def test_the_cards_modal_changes_it(escbot, fake_slack, config, clock, user_factory) -> None:
    services = escbot.services
    ticket = new_ticket(services.sessions, config, services.renderer, clock.now(), severity="sev1")
    owner = ticket.assignee_id
    assert owner is not None
    assert drain(services.outbox)
    [card] = [m for m in fake_slack.messages(INTAKE) if ticket.key in m.blocks[0]["text"]["text"]]
    user = user_factory(owner)
    user.click(card, "Change severity")
    view = fake_slack.wait_until(lambda: fake_slack.last_view(owner))
    assert user.submit_view(view, {"New severity": "sev3", "Why?": "Old footage, no reach"}).ok
    with services.sessions() as s:
        row = s.get_one(Ticket, ticket.id)
        assert (row.severity, row.assignee_id) == ("sev3", owner)  # lowering never moves it


def test_pauses_are_measured_again_on_the_new_severitys_clock(sessions, config) -> None:  # type: ignore[no-untyped-def]
    renderer = Renderer(config.team_tz)
    opened = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # Thu 10:00 in Dublin
    ticket = new_ticket(sessions, config, renderer, opened, severity="sev2")
    owner = ticket.assignee_id
    assert owner is not None
    with transaction(sessions) as s:
        row = lookup.by_key(s, ticket.key, lock=True)
        questions.ask_reporter(
            s, config, renderer, row, "Which post?", actor=owner, now=opened + timedelta(hours=1)
        )
    back = opened + timedelta(hours=25)  # Fri 11:00: 24h away, 9 working hours
    with transaction(sessions) as s:
        row = lookup.by_key(s, ticket.key, lock=True)
        questions.resume_by_owner(s, config, renderer, row, actor=owner, now=back)
        assert row.paused_seconds == 9 * 3600
    with transaction(sessions) as s:
        row = lookup.by_key(s, ticket.key, lock=True)
        severity.change(s, config, renderer, row, "sev1", "viral", actor=LEAD, now=back)
        assert row.paused_seconds == 24 * 3600
        assert sla.due(config, row, sla.TTR) == opened + timedelta(hours=8 + 24)


def test_a_resolved_ticket_is_reopened_first(sessions, config) -> None:  # type: ignore[no-untyped-def]
    renderer = Renderer(config.team_tz)
    now = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    ticket = new_ticket(sessions, config, renderer, now)
    with transaction(sessions) as s:
        row = lookup.by_key(s, ticket.key, lock=True)
        row.status = "resolved"
        with pytest.raises(DomainError, match="reopen it first"):
            severity.change(s, config, renderer, row, "sev0", "r", actor=LEAD, now=now)


def test_last_weeks_digest_is_the_same_bytes_after_the_change(
    escbot, fake_slack, config, clock, user_factory
) -> None:
    services = escbot.services
    sessions, renderer = services.sessions, services.renderer
    clock.set(LAST_WEEK)
    ticket = new_ticket(sessions, config, renderer, LAST_WEEK, severity="sev3", language="en")
    owner = ticket.assignee_id
    assert owner is not None and owner != LEAD
    ownership.acknowledge_ticket(
        desk_at(sessions, config, LAST_WEEK + timedelta(hours=1), renderer), ticket.key, owner
    )
    now = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    clock.set(now)
    weekly = config.digest("weekly")
    assert weekly is not None
    week = period_containing("week", date(2026, 11, 17), config.team_tz)

    def last_week() -> str:
        with sessions() as s:
            made = make_digest(s, config, renderer, weekly, week, clock.now(), chart=False)
        return json.dumps(made.payload, ensure_ascii=False, sort_keys=True)

    assert drain(services.outbox)  # the card posted: its link is in the digest from now on
    before = last_week()
    assert ticket.key in before and "sev3" in before
    mark = fake_slack.mark()
    user_factory(LEAD).command("/escalate", f"sev {ticket.key} sev0 It is a live attack")
    assert "raised from SEV3 to SEV0" in answer(fake_slack, mark)
    with sessions() as s:
        assert s.get_one(Ticket, ticket.id).severity == "sev0"
    assert last_week() == before
