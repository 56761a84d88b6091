"""A ticket is opened in two steps: the ack's transaction (ticket, content, audit, the
pending route step) and the route step (routing, timers, card, thread, DMs), run exactly
once whoever runs it — the listener after ``ack()``, a scheduler's tick after a crash,
or a second report joining the ticket meanwhile. On SQLite and, with
ESCBOT_TEST_DATABASE_URL, PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import register_timer_handlers
from bot.config import AppConfig
from bot.core.clock import FakeClock
from bot.core.desk import Desk
from bot.core.render import Renderer
from bot.delivery.timers import FIRED, TimerRunner
from bot.intake import form as intake_form
from bot.intake import opening, tracking
from bot.intake import service as intake
from bot.intake.draft import Draft
from bot.intake.service import Result
from bot.sandbox.emulator import view_state
from bot.tickets.lifecycle import Status, status_label
from storage.db import transaction
from storage.models import OutboxMessage, Ticket, TicketEvent, Timer
from tests.intake_support import INTAKE, PARTNER, open_modal
from tests.outbox_support import drain

NOW = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)  # a Thursday afternoon: the pod on shift
VIDEO = "https://www.example.com/watch/clip-7"


def draft(content: tuple[str, ...] = (VIDEO,), severity: str = "sev1") -> Draft:
    return Draft(
        summary="Viral clip", policy_area="graphic_violence", severity=severity, content=content
    )


def acked(sessions: sessionmaker[Session], config: AppConfig, reporter: str = PARTNER) -> int:
    """The ack's transaction alone, committed (as if the process died right after it);
    ``PARTNER`` reports the video, anyone else a post of their own."""
    content = (VIDEO,) if reporter == PARTNER else (f"post:{reporter}",)
    with transaction(sessions) as s:
        outcome = intake.submit(
            s, config, draft(content), reporter=reporter, now=NOW, request_key=f"view:{reporter}"
        )
        assert outcome.result is Result.CREATED and outcome.ticket is not None
        return outcome.ticket.id


def effects(sessions: sessionmaker[Session], ticket_id: int) -> dict[str, Any]:
    """What routing and announcing a ticket wrote: outbox rows, timers, audit events."""
    with sessions() as s:
        outbox = Counter(
            s.scalars(select(OutboxMessage.kind).where(OutboxMessage.ticket_id == ticket_id))
        )
        timers = Counter(
            s.scalars(
                select(Timer.kind).where(Timer.ticket_id == ticket_id, Timer.kind != opening.KIND)
            )
        )
        events = Counter(
            s.scalars(select(TicketEvent.action).where(TicketEvent.ticket_id == ticket_id))
        )
        step = s.scalar(select(Timer.status).where(Timer.dedup_key == opening.step_key(ticket_id)))
        ticket = s.get_one(Ticket, ticket_id)
        return {
            "outbox": dict(outbox),
            "timers": dict(timers),
            "events": dict(events),
            "step": step,
            "owner": ticket.assignee_id,
        }


def runner(sessions: sessionmaker[Session], config: AppConfig) -> TimerRunner:
    """A scheduler's timer runner, with production's handlers."""
    timers = TimerRunner(sessions, FakeClock(NOW))
    register_timer_handlers(timers, config, Renderer(config.team_tz))
    return timers


def test_the_ack_commits_the_ticket_and_its_step_only(sessions, config) -> None:  # type: ignore[no-untyped-def]
    ticket_id = acked(sessions, config)
    assert effects(sessions, ticket_id) == {
        "outbox": {},
        "timers": {},
        "events": {"create": 1},
        "step": "pending",
        "owner": None,
    }


def test_a_step_left_by_a_crash_is_run_once_by_the_next_tick(sessions, config) -> None:  # type: ignore[no-untyped-def]
    ticket_id = acked(sessions, config)
    with transaction(sessions) as s:  # the same ticket opened in one go, for comparison
        reference = intake.open_ticket(
            s, config, Renderer(config.team_tz), draft(("post:1",)), reporter=PARTNER, now=NOW
        ).id
    timers = runner(sessions, config)
    assert timers.run_due() >= 1
    after = effects(sessions, ticket_id)
    assert after["step"] == FIRED and after["owner"] is not None
    assert {k: after[k] for k in ("outbox", "timers", "events")} == {
        k: effects(sessions, reference)[k] for k in ("outbox", "timers", "events")
    }
    assert after["outbox"]["card"] == 1 and after["events"]["assign"] == 1
    timers.run_due()  # the next tick, and the listener coming back late: nothing more
    desk = Desk(sessions, config, Renderer(config.team_tz), FakeClock(NOW))
    assert opening.finish(desk, ticket_id).assignee_id == after["owner"]
    assert effects(sessions, ticket_id) == after


def test_the_listener_and_the_tick_racing_for_the_step_run_it_once(sessions, config) -> None:  # type: ignore[no-untyped-def]
    desk = Desk(sessions, config, Renderer(config.team_tz), FakeClock(NOW))
    ids = [acked(sessions, config, reporter=f"U07OPEN{i:03d}") for i in range(4)]
    # a fifth ticket whose step the runner holds while the listener tries it
    held = acked(sessions, config, reporter="U07OPENHLD")
    timers = runner(sessions, config)
    inside, release = threading.Event(), threading.Event()
    route = timers.handlers[opening.KIND]

    def slow(session: Session, timer: Timer, now: datetime) -> None:
        if timer.ticket_id == held:
            inside.set()
            release.wait(5)
        route(session, timer, now)

    timers.handlers[opening.KIND] = slow
    ticks = threading.Thread(target=timers.run_due)
    ticks.start()
    assert inside.wait(5)
    listener = threading.Thread(target=opening.finish, args=(desk, held))
    listener.start()
    listener.join(timeout=0.3)  # it waits for the runner's commit (or gets there after it)
    release.set()
    ticks.join()
    listener.join()

    start = threading.Barrier(len(ids) * 2)

    def listen(ticket_id: int) -> None:
        start.wait()
        opening.finish(desk, ticket_id)

    def tick() -> None:
        start.wait()
        timers.run_due()

    racers = [threading.Thread(target=listen, args=(i,)) for i in ids]
    racers += [threading.Thread(target=tick) for _ in ids]
    for t in racers:
        t.start()
    for t in racers:
        t.join()

    first = effects(sessions, held)
    assert first["outbox"]["card"] == 1 and first["outbox"]["dm"] == 1
    assert first["outbox"]["notice"] >= 1 and first["events"]["assign"] == 1
    assert sum(first["timers"].values()) >= 2  # the chain's step and the SLA clocks
    for ticket_id in ids:
        got = effects(sessions, ticket_id)
        assert got["step"] == FIRED
        assert {k: got[k] for k in ("outbox", "timers", "events")} == {
            k: first[k] for k in ("outbox", "timers", "events")
        }
    with sessions() as s:
        assert s.scalar(select(func.count()).where(Timer.kind == opening.KIND)) == 5


def test_a_ticket_not_routed_yet_reads_sensibly_and_a_second_report_routes_it_first(
    sessions, config
) -> None:  # type: ignore[no-untyped-def]
    desk = Desk(sessions, config, Renderer(config.team_tz), FakeClock(NOW))
    ticket_id = acked(sessions, config)
    status = tracking.status(desk, "ESC-1", viewer=PARTNER)
    shown = json.dumps(status["blocks"])
    assert "*Owner*\\nnot assigned yet" in shown
    assert f"Status: *{status_label(Status.NEW.value)}*" in shown
    # the same reporter's second report of the video: offered the ticket, owner not yet known
    view = {**intake_form.command_modal(desk, "Again", "C07PARTNERS"), "id": "V2"}
    values = {"Policy area": "graphic_violence", "Your team": "Legal",
              "Content links or ids": VIDEO + "?utm_source=x"}  # fmt: skip
    view["state"] = {"values": view_state(view, values, enforce_required=False)}
    answer = intake_form.submit_view(desk, view, PARTNER)
    assert answer.choice is not None and answer.finish is None
    assert "not assigned yet" in json.dumps(answer.choice["blocks"])
    assert effects(sessions, ticket_id)["step"] == "pending"  # looking changed nothing
    # adding to it routes it first: card and details before the report's line
    chosen = intake_form.choose(
        desk,
        {**answer.choice, "id": "V2"},
        {"action_id": "intake_add_1", "value": "ESC-1"},
        PARTNER,
    )
    assert chosen.confirmation is None  # joined, not opened
    got = effects(sessions, ticket_id)
    assert got["step"] == FIRED and got["owner"] is not None and got["events"]["assign"] == 1
    with sessions() as s:
        rows = list(
            s.execute(
                select(OutboxMessage.kind, OutboxMessage.dedup_key)
                .where(OutboxMessage.ticket_id == ticket_id, OutboxMessage.channel == INTAKE)
                .order_by(OutboxMessage.id)
            )
        )
    assert [kind for kind, _ in rows[:2]] == ["card", "thread"]
    assert rows[1][1].endswith(":details") and rows[-1][0] == "thread"


def test_over_http_a_crash_after_the_ack_is_routed_by_the_tick_card_and_dm_once(
    escbot, fake_slack, user_factory
) -> None:  # type: ignore[no-untyped-def]
    partner = user_factory(PARTNER)
    view = open_modal(partner, fake_slack, "Viral clip")
    desk = escbot.services.desk
    values = {"Your team": "Legal", "Severity": "sev1", "Content links or ids": VIDEO}
    view = {**view, "state": {"values": view_state(view, values, enforce_required=False)}}
    answer = intake_form.submit_view(desk, view, PARTNER)  # the listener, up to its ack()
    assert answer.finish is not None  # … and then the process dies: the step never runs
    assert escbot.services.timers.run_due() >= 1  # the next process's tick
    assert drain(escbot.services.outbox)
    cards = [m for m in fake_slack.messages(INTAKE) if "ESC-1" in json.dumps(m.blocks[:1])]
    assert len(cards) == 1 and "<@" in json.dumps(cards[0].blocks)  # posted once, with its owner
    dms = [m for m in fake_slack.dms(PARTNER) if "ESC-1" in (m.text or "")]
    assert len(dms) == 1
    answer.finish()  # a listener that comes back after all changes nothing
    escbot.services.timers.run_due()
    assert drain(escbot.services.outbox)
    assert len([m for m in fake_slack.messages(INTAKE) if "ESC-1" in json.dumps(m.blocks[:1])]) == 1
    assert len([m for m in fake_slack.dms(PARTNER) if "ESC-1" in (m.text or "")]) == 1
