"""The escalation chain on a fake clock: each step once, durable, and once across replicas.

Thu 2026-11-26 10:00 UTC, a sev1 graphic-violence ticket in Spanish (ack within 30m,
24x7): the on-call, Beatriz, is off shift in São Paulo, so it goes to the first
rotation member on shift who speaks Spanish (Lucía). Not acknowledged, it moves at
10:30 to the next on call who has not had it and is on shift (Wanjiru), at 11:00 to
the lead, and then stays.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.clock import FakeClock
from bot.core.desk import Desk
from bot.core.render import Renderer
from bot.delivery.timers import TimerRunner
from bot.routing import chain, ownership
from storage.db import make_engine, make_session_factory, transaction
from storage.models import OutboxMessage, OutOfOffice, Ticket, TicketEvent, Timer
from tests.desk import BEATRIZ, LEAD, LUCIA, MORNING, WANJIRU, new_ticket


@pytest.fixture
def renderer(config) -> Renderer:  # type: ignore[no-untyped-def]
    return Renderer(config.team_tz)


def runner(sessions: sessionmaker[Session], config, renderer, clock: FakeClock) -> TimerRunner:  # type: ignore[no-untyped-def]
    """What each app process builds at start (create_app → register_timer_handlers)."""
    r = TimerRunner(sessions, clock)
    r.register(chain.KIND, chain.make_timer_handler(config, renderer))
    r.register("sla", lambda s, t, now: None)  # SLA notices are not under test here
    return r


def owners(sessions: sessionmaker[Session], ticket_id: int) -> list[tuple[str, int | None]]:
    with sessions() as s:
        rows = s.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.action == "assign")
            .order_by(TicketEvent.id)
        )
        return [
            (e.payload["assignee"], (e.payload.get("escalation") or {}).get("level")) for e in rows
        ]


def messages(sessions: sessionmaker[Session], kind: str, channel: str | None = None) -> list[str]:
    with sessions() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)).all()
        return [str(r.payload) for r in rows if channel is None or r.channel == channel]


def test_unacknowledged_sev1_moves_up_the_chain_once_per_step(
    sessions: sessionmaker[Session], config, renderer
) -> None:
    clock = FakeClock(MORNING)
    run = runner(sessions, config, renderer, clock)
    t = new_ticket(sessions, config, renderer, MORNING, severity="sev1")
    assert t.assignee_id == LUCIA
    clock.advance(timedelta(minutes=29))
    run.run_due()
    assert owners(sessions, t.id) == [(LUCIA, None)]
    clock.advance(timedelta(minutes=1))
    run.run_due()
    run.run_due()
    assert owners(sessions, t.id) == [(LUCIA, None), (WANJIRU, 1)]
    with sessions() as s:
        ticket = s.get_one(Ticket, t.id)
        assert (ticket.status, ticket.escalation_level) == ("assigned", 1)
        assert ticket.routing_reason == (
            "Escalated to Wanjiru Kamau (next on call): not acknowledged within 30 minutes"
        )
    [line] = [m for m in messages(sessions, "thread") if "Not acknowledged" in m]
    assert f"moves to <@{WANJIRU}> (next on call) from <@{LUCIA}>" in line
    assert any("was not acknowledged in time" in m for m in messages(sessions, "notice", WANJIRU))
    clock.advance(timedelta(minutes=30))
    run.run_due()
    assert owners(sessions, t.id)[-1] == (LEAD, 2)
    assert any("not acknowledged in time" in m for m in messages(sessions, "notice", LEAD))
    clock.advance(timedelta(hours=5))
    run.run_due()
    assert len(owners(sessions, t.id)) == 3  # the lead is the top: nothing further
    with sessions() as s:
        steps = s.scalars(select(Timer).where(Timer.kind == "chain").order_by(Timer.id)).all()
        assert [(x.dedup_key, x.status) for x in steps] == [
            (f"chain:{t.id}:1", "fired"),
            (f"chain:{t.id}:2", "fired"),
        ]


def test_ack_or_take_calls_the_chain_off(sessions: sessionmaker[Session], config, renderer) -> None:
    clock = FakeClock(MORNING)
    run = runner(sessions, config, renderer, clock)
    acked = new_ticket(sessions, config, renderer, MORNING, severity="sev1")
    taken = new_ticket(sessions, config, renderer, MORNING, severity="sev1")
    clock.advance(timedelta(minutes=10))
    desk = Desk(sessions, config, renderer, clock)
    ownership.acknowledge_ticket(desk, acked.key, LUCIA)
    ownership.take_ticket(desk, taken.key, WANJIRU)
    clock.advance(timedelta(hours=2))
    run.run_due()
    assert owners(sessions, acked.id) == [(LUCIA, None)]
    assert owners(sessions, taken.id) == [(LUCIA, None)]


def test_a_pending_step_survives_a_restart(
    sessions: sessionmaker[Session], config, renderer
) -> None:
    t = new_ticket(sessions, config, renderer, MORNING, severity="sev1")
    # the process that scheduled it is gone; a new one starts later with its own runner
    later = FakeClock(MORNING + timedelta(minutes=45))
    fresh = runner(sessions, config, Renderer(config.team_tz), later)
    assert fresh.run_due() >= 1
    assert owners(sessions, t.id)[-1] == (WANJIRU, 1)


def race(barrier: threading.Barrier, r: TimerRunner) -> None:
    barrier.wait()
    r.run_due()


def test_two_runners_racing_take_each_step_once(
    sessions: sessionmaker[Session], db_url: str, config, renderer
) -> None:
    """Two replicas: each its own engine (connection pool) and runner, one database."""
    clock = FakeClock(MORNING)
    tickets = [new_ticket(sessions, config, renderer, MORNING, severity="sev1") for _ in range(3)]
    other = make_engine(db_url)
    runners = [
        runner(sessions, config, renderer, clock),
        runner(make_session_factory(other), config, Renderer(config.team_tz), clock),
    ]
    for _ in range(2):  # step 1, then step 2
        clock.advance(timedelta(minutes=30))
        barrier = threading.Barrier(len(runners))
        threads = [threading.Thread(target=race, args=(barrier, r)) for r in runners]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    other.dispose()
    for t in tickets:
        assert [level for _, level in owners(sessions, t.id)] == [None, 1, 2]
    lines = [m for m in messages(sessions, "thread") if "Not acknowledged" in m]
    assert len(lines) == 2 * len(tickets)
    assert len(messages(sessions, "notice", LEAD)) == len(tickets)


def test_steps_pass_over_members_who_cannot_take_it(
    sessions: sessionmaker[Session], config, renderer
) -> None:
    """self_harm sev0 at 10:00: the on-call (Beatriz) lacks the skill, so routing gives it to
    Wanjiru (next in the rotation, on shift); the chain's next on call is Marcus (off shift,
    but nobody free in the rotation is on shift)."""
    clock = FakeClock(MORNING)
    run = runner(sessions, config, renderer, clock)
    t = new_ticket(
        sessions, config, renderer, MORNING, area="self_harm", severity="sev0", language=None
    )
    assert t.assignee_id == WANJIRU
    clock.advance(timedelta(minutes=15))
    run.run_due()
    with sessions() as s:
        step = s.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == t.id, TicketEvent.action == "assign")
        ).all()[-1]
    assert step.payload["assignee"] == "U05NYC3MRD8"
    skipped = {(x["id"], x["why"]) for x in step.payload["escalation"]["skipped"]}
    assert (BEATRIZ, "doesn't handle Suicide and self-harm") in skipped
    assert (WANJIRU, "already had it") in skipped


def test_a_ticket_handed_to_the_lead_does_not_move_down_the_chain(
    sessions: sessionmaker[Session], config, renderer
) -> None:
    clock = FakeClock(MORNING)
    run = runner(sessions, config, renderer, clock)
    t = new_ticket(sessions, config, renderer, MORNING, severity="sev1")
    ownership.reassign_ticket(
        Desk(sessions, config, renderer, clock),
        t.key,
        BEATRIZ,
        to=LEAD,
        reason="legal call",
        submission="view-1",
    )
    clock.advance(timedelta(hours=2))
    run.run_due()
    assert owners(sessions, t.id) == [(LUCIA, None), (LEAD, None)]


def test_with_nobody_further_up_the_owner_keeps_it_and_the_thread_says_so(
    sessions: sessionmaker[Session], config, renderer
) -> None:
    """Chain [next_oncall] only; the one on-call member with the skill (Marcus) is away."""
    cfg = config.model_copy(
        update={"routing": config.routing.model_copy(update={"escalation_chain": ("next_oncall",)})}
    )
    with transaction(sessions) as s:
        s.add(
            OutOfOffice(
                user_id="U05NYC3MRD8",
                starts_at=MORNING - timedelta(days=1),
                ends_at=MORNING + timedelta(days=1),
                created_at=MORNING,
            )
        )
    clock = FakeClock(MORNING)
    run = runner(sessions, cfg, renderer, clock)
    t = new_ticket(
        sessions, cfg, renderer, MORNING, area="self_harm", severity="sev0", language=None
    )
    clock.advance(timedelta(minutes=15))
    run.run_due()
    assert owners(sessions, t.id) == [(WANJIRU, None)]
    with sessions() as s:
        ticket = s.get_one(Ticket, t.id)
        assert ticket.escalation_level == 1
        [done] = s.scalars(
            select(TicketEvent).where(
                TicketEvent.ticket_id == t.id, TicketEvent.action == "escalate"
            )
        ).all()
        assert done.payload["exhausted"]
        assert ("U05NYC3MRD8", "out of office until Fri 27 Nov 05:00 in New York") in {
            (x["id"], x["why"]) for x in done.payload["skipped"]
        }
    assert any("nobody further" in m for m in messages(sessions, "thread"))
