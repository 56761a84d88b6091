"""At-risk and breach notices: once per ticket and clock, rescheduled by pauses, and fired
once by two runners racing on one database (PostgreSQL with ESCBOT_TEST_DATABASE_URL)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import register_timer_handlers
from bot.config import AppConfig
from bot.core.clock import FakeClock
from bot.core.render import Renderer
from bot.delivery.timers import TimerRunner
from bot.resolution import questions
from bot.sla.timers import reschedule
from bot.tickets.lifecycle import Action, transition
from storage.db import transaction
from storage.models import OutboxMessage, SlaBreach, Ticket, TicketEvent, Timer
from tests.test_resolution import LEAD, REPORTER, T0, ack, act, new_ticket

M = 60


def runner(sessions: sessionmaker[Session], cfg: AppConfig, clock: FakeClock) -> TimerRunner:
    """A timer runner with every production handler, as ``create_app`` registers them."""
    timers = TimerRunner(sessions, clock)
    register_timer_handlers(timers, cfg, Renderer(cfg.team_tz))
    return timers


def notices(sessions: sessionmaker[Session], ticket_id: int) -> list[tuple[str, str]]:
    with sessions() as s:
        events = s.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.action.like("sla_%"))
            .order_by(TicketEvent.id)
        )
        return [(e.action, e.payload["clock"]) for e in events]


def pending_sla(sessions: sessionmaker[Session], ticket_id: int) -> dict[str, datetime]:
    with sessions() as s:
        rows = s.scalars(
            select(Timer).where(
                Timer.ticket_id == ticket_id, Timer.kind == "sla", Timer.status == "pending"
            )
        )
        return {f"{t.payload['clock']}:{t.payload['level']}": t.due_at for t in rows}


def test_each_notice_fires_once_at_its_time(sessions, config) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock(T0)
    timers = runner(sessions, config, clock)
    tid = new_ticket(sessions, config, severity="sev0")  # 24x7: ack 15m, resolve 4h
    assert pending_sla(sessions, tid) == {
        "tta:at_risk": T0 + timedelta(seconds=675),
        "tta:breach": T0 + timedelta(minutes=15),
        "ttr:at_risk": T0 + timedelta(hours=3),
        "ttr:breach": T0 + timedelta(hours=4),
    }
    clock.set(T0 + timedelta(seconds=674))
    timers.run_due()
    assert notices(sessions, tid) == []
    clock.set(T0 + timedelta(seconds=675))
    timers.run_due()
    timers.run_due()
    assert notices(sessions, tid) == [("sla_at_risk", "tta")]
    clock.set(T0 + timedelta(minutes=15))
    timers.run_due()  # the escalation chain moves the ticket on too; the breach stays one
    assert notices(sessions, tid) == [("sla_at_risk", "tta"), ("sla_breach", "tta")]
    ack(sessions, config, tid, T0 + timedelta(minutes=20))
    clock.set(T0 + timedelta(hours=3))
    timers.run_due()
    clock.set(T0 + timedelta(hours=5))
    timers.run_due()
    timers.run_due()
    assert notices(sessions, tid) == [
        ("sla_at_risk", "tta"),
        ("sla_breach", "tta"),
        ("sla_at_risk", "ttr"),
        ("sla_breach", "ttr"),
    ]
    with sessions() as s:
        t = s.get_one(Ticket, tid)
        assert (t.tta_seconds, t.tta_breached, t.ttr_breached) == (20 * M, True, True)
        breaches = s.scalars(select(SlaBreach).order_by(SlaBreach.id)).all()
        assert [(b.clock, b.due_at, b.at) for b in breaches] == [
            ("tta", T0 + timedelta(minutes=15), T0 + timedelta(minutes=15)),
            ("ttr", T0 + timedelta(hours=4), T0 + timedelta(hours=5)),
        ]
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key.like("sla%"))).all()
        threads = sorted(r.dedup_key for r in rows if r.kind == "thread")
        assert threads == [
            f"sla:{tid}:{c}:{lvl}" for c in ("tta", "ttr") for lvl in ("at_risk", "breach")
        ]
        dms = Counter(r.dedup_key.rsplit(":", 2)[1] for r in rows if r.kind == "notice")
        assert dms == {"at_risk": 2, "breach": 4}  # the owner; on breach the lead too
        lead_dms = [r for r in rows if r.kind == "notice" and r.channel == LEAD]
        assert {r.dedup_key.split(":")[3] for r in lead_dms} == {"breach"}
        # the owner's DM carries what stops the clock; the escalated-from owner and the
        # lead's copies carry no button (neither can Ack or Resolve it as its owner)
        actions = {
            tuple(r.dedup_key.split(":")[2:4]): (r.payload.get("_action") or {}).get("action_id")
            for r in rows
            if r.kind == "notice" and r.channel != LEAD
        }
        assert actions == {
            ("tta", "at_risk"): "ticket_ack:dm",
            ("tta", "breach"): None,  # escalated at the breach: no longer theirs
            ("ttr", "at_risk"): "ticket_resolve:dm",
            ("ttr", "breach"): "ticket_resolve:dm",
        }
        assert not any(r.payload.get("_action") for r in lead_dms)


def test_a_pause_moves_the_notices_under_a_new_generation(sessions, config) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock(T0)
    timers = runner(sessions, config, clock)
    r = Renderer(config.team_tz)
    tid = new_ticket(sessions, config, severity="sev0")
    with sessions() as s:
        first = {t.dedup_key for t in s.scalars(select(Timer).where(Timer.kind == "sla"))}
    asked = T0 + timedelta(minutes=5)
    act(
        sessions,
        tid,
        lambda s, t: questions.ask_reporter(s, config, r, t, "?", actor=LEAD, now=asked),
    )
    assert pending_sla(sessions, tid) == {}
    clock.set(T0 + timedelta(hours=2))
    timers.run_due()
    assert notices(sessions, tid) == []  # nothing counts while waiting
    with transaction(sessions) as s:
        s.get_one(Ticket, tid).card_ts = "1.000001"
    with transaction(sessions) as s:
        questions.on_thread_reply(
            s,
            config,
            r,
            channel="C06H2KX8ESC",
            thread_ts="1.000001",
            user=REPORTER,
            text="here",
            now=clock.now(),
        )
    paused = timedelta(hours=1, minutes=55)
    assert pending_sla(sessions, tid) == {  # asking acknowledged it: TTA stopped at 5m
        "ttr:at_risk": T0 + timedelta(hours=3) + paused,
        "ttr:breach": T0 + timedelta(hours=4) + paused,
    }
    with sessions() as s:
        rows = s.scalars(select(Timer).where(Timer.kind == "sla")).all()
        assert first <= {t.dedup_key for t in rows if t.status == "cancelled"}
        generations = {t.payload["generation"] for t in rows if t.status == "pending"}
        assert len(generations) == 1 and generations != {0}
    clock.set(T0 + timedelta(hours=3) + paused - timedelta(seconds=1))
    timers.run_due()
    assert notices(sessions, tid) == []
    clock.advance(timedelta(seconds=1))
    timers.run_due()
    assert notices(sessions, tid) == [("sla_at_risk", "ttr")]
    with sessions() as s:
        assert s.get_one(Ticket, tid).tta_seconds == 5 * M


def test_business_hours_notices_wait_for_monday(sessions, config) -> None:  # type: ignore[no-untyped-def]
    friday = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)  # 16:00 in Dublin
    clock = FakeClock(friday)
    timers = runner(sessions, config, clock)
    tid = new_ticket(sessions, config, friday, severity="sev2")  # ack 4h, business hours
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert pending_sla(sessions, tid)["tta:at_risk"] == monday + timedelta(hours=1)
    assert pending_sla(sessions, tid)["tta:breach"] == monday + timedelta(hours=2)
    clock.set(datetime(2026, 11, 29, 23, 0, tzinfo=UTC))
    timers.run_due()
    assert notices(sessions, tid) == []
    clock.set(monday + timedelta(hours=1))
    timers.run_due()
    assert notices(sessions, tid) == [("sla_at_risk", "tta")]


def test_a_stale_timer_does_not_notify_early(sessions, config) -> None:  # type: ignore[no-untyped-def]
    """A replica firing a timer that a concurrent pause made stale re-checks the due time."""
    clock = FakeClock(T0)
    timers = runner(sessions, config, clock)
    tid = new_ticket(sessions, config, severity="sev0")
    with transaction(sessions) as s:
        t = s.get_one(Ticket, tid)
        t.paused_seconds = 600  # as a resume committed meanwhile would have left it
    clock.set(T0 + timedelta(seconds=700))
    timers.run_due()
    assert notices(sessions, tid) == []


def test_two_runners_fire_every_notice_once(sessions, config) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock(T0)
    ids = [new_ticket(sessions, config, severity="sev0", summary=f"ticket {i}") for i in range(12)]
    for tid in ids[::2]:
        ack(sessions, config, tid, T0 + timedelta(minutes=1))
    runners = [runner(sessions, config, clock) for _ in range(2)]
    barrier = threading.Barrier(2)

    def go(r: TimerRunner) -> None:
        barrier.wait()
        r.run_due()

    steps = (timedelta(minutes=12), timedelta(minutes=16), timedelta(hours=3), timedelta(hours=5))
    for step in steps:
        clock.set(T0 + step)
        threads = [threading.Thread(target=go, args=(r,)) for r in runners]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for r in runners:  # anything a lost race postponed is gone by now
        assert r.run_due() == 0
    with sessions() as s:
        events = s.scalars(select(TicketEvent).where(TicketEvent.action.like("sla_%"))).all()
        per = Counter((e.ticket_id, e.action, e.payload["clock"]) for e in events)
        assert set(per.values()) == {1}
        acked, unacked = set(ids[::2]), set(ids[1::2])
        assert {k for k in per if k[2] == "tta"} == {
            (t, a, "tta") for t in unacked for a in ("sla_at_risk", "sla_breach")
        }
        assert len([k for k in per if k[2] == "ttr"]) == 2 * len(ids)
        breaches = s.scalars(select(SlaBreach)).all()
        assert len(breaches) == len(unacked) + len(ids)
        threads = s.scalars(
            select(OutboxMessage.dedup_key).where(
                OutboxMessage.kind == "thread", OutboxMessage.dedup_key.like("sla:%")
            )
        ).all()
        assert len(threads) == len(set(threads)) == 2 * len(unacked) + 2 * len(ids)
        assert not acked & {t for t, _, c in per if c == "tta"}


def test_after_downtime_the_breach_says_it_all(sessions, config) -> None:  # type: ignore[no-untyped-def]
    """Both the at-risk warning and the breach came due while nothing ran: only the breach."""
    clock = FakeClock(T0)
    timers = runner(sessions, config, clock)
    tid = new_ticket(sessions, config, severity="sev0")  # ack 15m: at risk at 11m15s
    clock.set(T0 + timedelta(minutes=20))
    timers.run_due()
    assert notices(sessions, tid) == [("sla_breach", "tta")]
    with transaction(sessions) as s:  # nor does a reschedule after the breach is due
        t = s.get_one(Ticket, tid)
        t.tta_breached = False  # (as if its notice were still to come: it is scheduled)
        reschedule(s, config, t, clock.now())
        s.flush()
        pending = {
            f"{x.payload['clock']}:{x.payload['level']}"
            for x in s.scalars(select(Timer).where(Timer.kind == "sla", Timer.status == "pending"))
        }
        assert pending == {"tta:breach", "ttr:at_risk", "ttr:breach"}
        s.rollback()


def test_a_clock_stopped_without_sync_is_caught_up_when_its_timer_fires(sessions, config) -> None:  # type: ignore[no-untyped-def]
    clock = FakeClock(T0)
    timers = runner(sessions, config, clock)
    tid = new_ticket(sessions, config, severity="sev0")
    acked = T0 + timedelta(minutes=5)
    act(
        sessions,
        tid,
        lambda s, t: transition(s, t, Action.ACKNOWLEDGE, actor=t.assignee_id or LEAD, now=acked),
    )
    clock.set(T0 + timedelta(seconds=675))
    timers.run_due()
    assert notices(sessions, tid) == []
    with sessions() as s:
        assert s.get_one(Ticket, tid).tta_seconds == 5 * M
    assert pending_sla(sessions, tid) == {
        "ttr:at_risk": T0 + timedelta(hours=3),
        "ttr:breach": T0 + timedelta(hours=4),
    }
