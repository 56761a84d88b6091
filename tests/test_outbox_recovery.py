"""After an outage the backlog lands seconds after Slack is back, most urgent first, once.

Before, every message that failed waited out its own exponential backoff (toward 5
minutes): after a 20 s outage the backlog landed 20 s after Slack came back. Now the
outbox stops sending, probes with ``auth.test`` at most every 2 s, and the first answer
releases everything at once (bot/delivery/recovery.py). The worker runs on its own
thread with Slack's real pacing; its clock is injected, so the 60 s of outage pass on it
while the probe keeps its wall-time cadence.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.core.clock import FakeClock
from bot.core.render import Renderer
from bot.delivery.recovery import DOWN
from bot.delivery.worker import OutboxWorker
from storage.models import Ticket
from tests.desk import INTAKE, MORNING, new_ticket


@pytest.fixture
def wall() -> FakeClock:
    return FakeClock(MORNING)


@pytest.fixture
def worker(sessions, fake_slack, wall):  # type: ignore[no-untyped-def]
    def card(_s: Session, t: Ticket) -> dict:
        return {"text": f"{t.key} {t.severity} card"}

    worker = OutboxWorker(
        sessions,
        WebClient(token="xoxb-test", base_url=fake_slack.url),
        card,
        clock=wall,
        poll_interval=0.05,
        notice_window=timedelta(0),
    )
    worker.start()
    yield worker
    worker.stop()


def cards(fake_slack) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.text or "" for m in fake_slack.messages(INTAKE) if not m.is_reply]


@pytest.mark.parametrize("outage", ["503", "refused"])
def test_a_60_s_outage_lands_every_card_within_5_s_in_priority_order(  # type: ignore[no-untyped-def]
    sessions, config, fake_slack, worker, wall, outage, monkeypatch
) -> None:
    renderer = Renderer(config.team_tz)
    if outage == "503":
        fake_slack.outage(True)
    else:  # nothing listens: connections are refused
        monkeypatch.setattr(worker.client, "base_url", "http://127.0.0.1:9/api/")
    keys = [
        new_ticket(sessions, config, renderer, MORNING, severity=sev).key
        for sev in ("sev3", "sev0")  # with their thread lines: 4 posts at Slack's 1 a second
    ]
    worker.notify()
    for _ in range(12):  # 60 s on the worker's clock; the probe keeps its wall cadence
        wall.advance(timedelta(seconds=5))
        time.sleep(0.25)
    assert worker.recovery.state == DOWN and cards(fake_slack) == []
    probes = len(fake_slack.calls_to("auth.test"))

    back = time.monotonic()
    if outage == "503":
        fake_slack.outage(False)
    else:
        monkeypatch.setattr(worker.client, "base_url", fake_slack.url)
    fake_slack.wait_until(lambda: len(cards(fake_slack)) == 2, timeout=10)
    landed = time.monotonic() - back
    print(f"\n{outage}: every card {landed:.2f} s after Slack's return")
    assert landed < 5.0
    assert cards(fake_slack) == [f"{keys[1]} sev0 card", f"{keys[0]} sev3 card"]
    posted = [c.args["text"] for c in fake_slack.calls_to("chat.postMessage") if c.ok]
    assert len(posted) == len(set(posted))  # none twice
    if outage == "503":  # probing, not hammering: about one probe per 2 s of wall time
        assert probes <= 3


def test_the_first_answer_after_a_confirmed_outage_releases_the_parked_backlog(  # type: ignore[no-untyped-def]
    sessions, wall
) -> None:
    from bot.delivery import outbox
    from bot.delivery.recovery import UNAVAILABLE, UP, Recovery
    from storage.db import transaction
    from storage.models import OutboxMessage

    with transaction(sessions) as s:
        for n in range(3):
            outbox.enqueue_message(s, "C1", {"text": f"m{n}"}, f"m:{n}", wall.now())
        s.flush()
        rows = s.query(OutboxMessage).order_by(OutboxMessage.id).all()
        later = wall.now() + timedelta(minutes=5)
        rows[0].last_error, rows[0].next_attempt_at = f"{UNAVAILABLE}: http 503", later
        rows[1].last_error, rows[1].next_attempt_at = "ratelimited", later  # Retry-After stands
        rows[2].last_error, rows[2].next_attempt_at = "internal_error", later

    ticks = iter(range(0, 100, 3))
    recovery = Recovery(lambda: float(next(ticks)))

    def down() -> None:
        raise OSError("connection refused")

    recovery.unavailable()
    assert not recovery.probe(down, sessions, wall.now())  # confirmed: down
    assert recovery.probe(lambda: None, sessions, wall.now()) and recovery.state == UP
    with sessions() as s:
        due = [r.next_attempt_at for r in s.query(OutboxMessage).order_by(OutboxMessage.id)]
    assert [d.replace(tzinfo=None) for d in due] == [  # type: ignore[union-attr]
        wall.now().replace(tzinfo=None),
        later.replace(tzinfo=None),
        later.replace(tzinfo=None),
    ]
