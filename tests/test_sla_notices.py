"""A clock in words (the card's and App Home's lines) and the at-risk and breach notices:
what they record, who hears, and what they queue (on a real database)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.config import AppConfig
from bot.core.clock import FakeClock
from bot.core.render import Renderer
from bot.delivery import outbox
from bot.sla.calendar import AT_RISK, BREACH, TTA, TTR
from bot.sla.notices import SYSTEM_ACTOR, describe, notify, owner_at, standing
from bot.tickets.lifecycle import Action, transition
from storage.db import transaction
from storage.models import OutboxMessage, Ticket, TicketEvent
from tests.test_resolution import LEAD, T0, act, new_ticket
from tests.test_sla_clocks import H, local, ticket


def test_the_card_line_for_each_clock(config: AppConfig) -> None:
    r = Renderer(config.team_tz)
    t = ticket("sev0", T0)  # 24x7: ack 15m
    assert describe(config, r, t, TTA) == (
        "by <!date^1795688100^{date_short_pretty} {time}|Thu 26 Nov 10:15 Europe/Dublin>"
    )
    t.tta_breached = True
    assert describe(config, r, t, TTA) == (
        "was due <!date^1795688100^{date_short_pretty} {time}|Thu 26 Nov 10:15 Europe/Dublin>"
        " :rotating_light: breached"
    )
    t.acked_at, t.tta_seconds = T0 + timedelta(minutes=20), 1200
    assert describe(config, r, t, TTA) == "done in 20m :rotating_light: breached"
    t.waiting_since = T0 + timedelta(minutes=30)
    assert describe(config, r, t, TTR) == "paused while waiting on the reporter (3h 30m left)"
    t.waiting_since = T0 + timedelta(hours=5)  # paused an hour after the 4h target
    assert describe(config, r, t, TTR) == "paused while waiting on the reporter (0s left)"


def test_the_card_says_the_calendar_due_time_and_working_time(config: AppConfig) -> None:
    r = Renderer(config.team_tz)
    t = ticket("sev2", local(2026, 12, 3, 17, 0), status="acknowledged", tta_seconds=600)
    t.acked_at = t.created_at + timedelta(minutes=10)
    assert describe(config, r, t, TTR) == (
        "by <!date^1796662800^{date_short_pretty} {time}|Mon 07 Dec 17:00 Europe/Dublin>"
    )
    t.ttr_seconds, t.status = 11 * H + 30 * 60, "resolved"
    assert describe(config, r, t, TTR) == "done in 11h 30m of working time"


def test_standing_names_the_running_clock_relative_to_now(config: AppConfig) -> None:
    t = ticket("sev0", T0, status="assigned")  # ack 15m, resolve 4h
    ack_due = int((T0 + timedelta(minutes=15)).timestamp())
    assert standing(config, t, T0 + timedelta(minutes=10)) == (
        f"ack due <!date^{ack_due}^{{ago}}|in 5m>"
    )
    assert standing(config, t, T0 + timedelta(minutes=20)) == (
        f":rotating_light: ack target missed <!date^{ack_due}^{{ago}}|5m ago>"
    )
    t.acked_at, t.tta_seconds, t.status = T0 + timedelta(minutes=1), 60, "acknowledged"
    resolve_due = int((T0 + timedelta(hours=4)).timestamp())
    assert standing(config, t, T0 + timedelta(hours=1)) == (
        f"resolve due <!date^{resolve_due}^{{ago}}|in 3h>"
    )
    t.waiting_since = T0 + timedelta(minutes=30)
    assert standing(config, t, T0 + timedelta(hours=1)) == (
        "paused while waiting on the reporter (resolve 3h 30m left)"
    )
    t.waiting_since, t.status, t.ttr_seconds = None, "resolved", 2 * H
    assert standing(config, t, T0 + timedelta(hours=5)) == "resolved in 2h"
    b = ticket("sev2", T0, status="resolved", ttr_seconds=3 * H)
    assert standing(config, b, T0) == "resolved in 3h of working time"


# -- on a real database -----------------------------------------------------------------


def someone_else(cfg: AppConfig, *not_them: str | None) -> str:
    pod = cfg.pod_for_area("hateful_activities")
    return next(m.id for m in pod.members if m.id not in (*not_them, pod.lead))


def test_owner_at_is_the_last_assign_or_take_strictly_before(sessions, config) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock(T0)
    tid = new_ticket(sessions, config, severity="sev0")  # routing assigns it at T0
    with sessions() as s:
        first = s.get_one(Ticket, tid).assignee_id
    taker = someone_else(config, first)
    later = someone_else(config, first, taker)
    clock.advance(timedelta(minutes=10))
    act(sessions, tid, lambda s, t: transition(s, t, Action.TAKE, actor=taker, now=clock.now()))
    clock.advance(timedelta(minutes=10))
    act(
        sessions,
        tid,
        lambda s, t: transition(s, t, Action.ASSIGN, actor=LEAD, assignee=later, now=clock.now()),
    )
    with sessions() as s:
        t = s.get_one(Ticket, tid)
        assert owner_at(s, t, T0) is None  # nothing before the opening
        assert owner_at(s, t, T0 + timedelta(minutes=10)) == first  # a take at that instant
        assert owner_at(s, t, T0 + timedelta(minutes=10, seconds=1)) == taker
        assert owner_at(s, t, T0 + timedelta(hours=1)) == later


def queued(sessions: sessionmaker[Session], tid: int, since: int) -> list[OutboxMessage]:
    with sessions() as s:
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.ticket_id == tid, OutboxMessage.id > since)
                .order_by(OutboxMessage.id)
            )
        )


def last_id(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return max(s.scalars(select(OutboxMessage.id)).all(), default=0)


def test_an_at_risk_warning_tells_the_owner_and_refreshes_the_card(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    tid = new_ticket(sessions, config, severity="sev2")  # business hours: ack 4h from Thu 10:00
    since = last_id(sessions)
    now = T0 + timedelta(hours=3)
    with sessions() as s:
        version = s.get_one(Ticket, tid).version
    t = act(sessions, tid, lambda s, t: notify(s, config, r, t, TTA, AT_RISK, now))
    assert t.version == version + 1  # the card is a new version, not a repeat of the last
    owner = t.assignee_id
    rows = queued(sessions, tid, since)
    assert [(m.kind, m.channel, m.dedup_key) for m in rows if m.kind != outbox.HOME] == [
        ("thread", "C06H2KX8ESC", f"sla:{tid}:tta:at_risk"),
        ("notice", owner, f"sla-dm:{tid}:tta:at_risk:{owner}"),
        ("card", "C06H2KX8ESC", f"card:{tid}:v{t.version}"),
    ]
    assert rows[0].priority == outbox.ROUTINE  # a sev2 warning waits its turn
    assert "is 1h from its acknowledge target (4 working hours)" in rows[0].payload["text"]
    with sessions() as s:
        event = s.scalars(select(TicketEvent).where(TicketEvent.action == "sla_at_risk")).one()
        assert (event.actor_id, event.payload) == (
            SYSTEM_ACTOR,
            {"clock": "tta", "due_at": (T0 + timedelta(hours=4)).isoformat(), "owner": owner},
        )


def test_a_breach_goes_to_the_owner_it_ran_out_on_and_the_lead(sessions, config) -> None:  # type: ignore[no-untyped-def]
    r = Renderer(config.team_tz)
    tid = new_ticket(sessions, config, severity="sev2")
    due_at = T0 + timedelta(hours=4)
    with sessions() as s:
        first = s.get_one(Ticket, tid).assignee_id
    successor = someone_else(config, first)

    def escalate_then_notify(s: Session, t: Ticket) -> None:
        # an escalation step on the same due time: the breach is still the first owner's
        transition(s, t, Action.ASSIGN, actor=SYSTEM_ACTOR, assignee=successor, now=due_at)
        notify(s, config, r, t, TTA, BREACH, due_at)

    since = last_id(sessions)
    t = act(sessions, tid, escalate_then_notify)
    rows = [m for m in queued(sessions, tid, since) if m.kind in ("thread", "notice")]
    assert [(m.kind, m.channel, m.priority) for m in rows] == [
        ("thread", "C06H2KX8ESC", outbox.URGENT),  # a breach jumps the channel's queue
        ("notice", first, outbox.URGENT),
        ("notice", LEAD, outbox.URGENT),
    ]
    assert successor not in {m.channel for m in rows}
    with transaction(sessions) as s:
        event = s.scalars(select(TicketEvent).where(TicketEvent.action == "sla_breach")).one()
        assert event.payload["owner"] == first
    assert t.assignee_id == successor
