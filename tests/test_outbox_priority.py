"""Urgent work first and no DM storm: a sev0 card overtakes a channel's queued routine
cards, and the notices a person gets from one intake burst or one scheduler tick arrive as
one DM. Real intake and timer code, the fake Slack over HTTP, the worker's own clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.core.clock import FakeClock
from bot.core.render import Renderer
from bot.delivery.worker import OutboxWorker, Pacer
from storage.models import Ticket
from tests.desk import INTAKE, LEAD, MORNING, new_ticket
from tests.test_sla_timers import runner

#: These tests move the worker's injected clock to pass backoffs; Slack's rate buckets
#: refill with wall time, so a 429's Retry-After would never pass on that clock. Rate
#: limits are test_emulator_rate's, test_outbox_sender's and bench.delivery's subject.
pytestmark = pytest.mark.lenient(no_rate_tiers=True)

NIGHT = datetime(2026, 11, 26, 23, 0, tzinfo=MORNING.tzinfo)  # nobody on shift: the lead has it


@pytest.fixture
def renderer(config) -> Renderer:  # type: ignore[no-untyped-def]
    return Renderer(config.team_tz)


@pytest.fixture
def wall() -> FakeClock:
    return FakeClock(MORNING)


@pytest.fixture
def worker(sessions: sessionmaker[Session], fake_slack, wall) -> OutboxWorker:  # type: ignore[no-untyped-def]
    def card(_s: Session, t: Ticket) -> dict:
        return {"text": f"{t.key} {t.severity} card"}

    return OutboxWorker(
        sessions,
        WebClient(token="xoxb-test", base_url=fake_slack.url),
        card,
        clock=wall,
        pacer=Pacer(rate=1000, burst=1000),
        notice_window=timedelta(seconds=2),
    )


def settle(worker: OutboxWorker, wall: FakeClock) -> None:
    """Deliver everything, the worker's clock moving half a second a round (held notices,
    DMs waiting for their card)."""
    for _ in range(100):
        worker.run_once()
        if not worker.pending():
            return
        wall.advance(timedelta(seconds=0.5))
    pytest.fail(f"{worker.pending()} messages still pending")


def test_a_sev0_card_overtakes_the_routine_cards_queued_before_it(
    sessions, config, renderer, worker, fake_slack, wall
) -> None:  # type: ignore[no-untyped-def]
    routine = [
        new_ticket(sessions, config, renderer, MORNING, severity="sev3").key for _ in range(6)
    ]
    urgent = new_ticket(sessions, config, renderer, MORNING, severity="sev0").key
    worker.run_once()  # one message per channel and round: the most urgent
    assert [m.text for m in fake_slack.messages(INTAKE)] == [f"{urgent} sev0 card"]
    settle(worker, wall)
    cards = [m.text for m in fake_slack.messages(INTAKE) if not m.is_reply]
    assert cards == [f"{urgent} sev0 card", *(f"{key} sev3 card" for key in routine)]


def test_an_intake_burst_to_the_lead_is_one_dm(
    sessions, config, renderer, worker, fake_slack, wall
) -> None:  # type: ignore[no-untyped-def]
    first = new_ticket(sessions, config, renderer, NIGHT, area="violent_extremism", language=None)
    worker.run_once()  # the lead's first notice waits for company…
    keys = [first.key]
    for _ in range(5):
        t = new_ticket(sessions, config, renderer, NIGHT, area="violent_extremism", language=None)
        assert t.assignee_id == LEAD
        keys.append(t.key)
        worker.run_once()
    assert fake_slack.dms(LEAD) == []
    settle(worker, wall)  # …and then all of them go in one DM
    [dm] = fake_slack.dms(LEAD)
    shown = json.dumps(dm.blocks)
    assert dm.text == "escbot has 6 notices for you"
    assert all(f"*{key}*" in shown for key in keys)
    # Ack stays one click away: each line keeps its notice's button
    buttons = [b["accessory"] for b in dm.blocks if "accessory" in b]
    assert [(b["action_id"], b["value"]) for b in buttons] == [("ticket_ack:dm", k) for k in keys]


def test_one_tick_of_breaches_reaches_the_lead_as_one_dm(
    sessions, config, renderer, worker, fake_slack, wall
) -> None:  # type: ignore[no-untyped-def]
    tickets = [new_ticket(sessions, config, renderer, MORNING, severity="sev0") for _ in range(4)]
    settle(worker, wall)  # the owners' "it is yours" notices
    before = len(fake_slack.dms(LEAD))
    timers = runner(sessions, config, FakeClock(MORNING + timedelta(minutes=15)))
    assert timers.run_due() >= len(tickets)  # one tick: at-risk, breach, chain steps
    settle(worker, wall)
    [dm] = fake_slack.dms(LEAD)[before:]
    shown = json.dumps(dm.blocks)
    assert all(f"*{t.key}*" in shown for t in tickets)
    assert shown.count("SLA breached") == len(tickets)
