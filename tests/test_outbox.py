"""The outbox against the fake Slack: order, dedup, coalescing, Retry-After, dead letters."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.clock import FakeClock
from bot.delivery import outbox
from bot.delivery.worker import CARD_WAIT, METADATA_EVENT, OutboxWorker, Pacer
from storage.db import transaction
from storage.models import OutboxMessage, Ticket
from tests.outbox_support import drain
from tests.test_keys import create

#: These tests move the worker's injected clock to pass backoffs; Slack's rate buckets
#: refill with wall time, so a 429's Retry-After would never pass on that clock. Rate
#: limits are test_emulator_rate's, test_outbox_sender's and bench.delivery's subject.
pytestmark = pytest.mark.lenient(no_rate_tiers=True)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def channels(fake_slack) -> None:  # type: ignore[no-untyped-def]
    """The public channels these tests post to, escbot already in them (C404: no such one)."""
    for channel in ("C1", "C2", "C3", "C0ARCHIVED"):
        fake_slack.add_channel(channel, channel.lower())
        fake_slack.invite(channel)


@pytest.fixture
def worker(sessions: sessionmaker[Session], fake_slack) -> OutboxWorker:  # type: ignore[no-untyped-def]
    client = WebClient(token="xoxb-test", base_url=fake_slack.url)

    def render(_s: Session, t: Ticket) -> dict:
        return {"text": f"{t.key} {t.status} v{t.version}"}

    return OutboxWorker(sessions, client, render, pacer=Pacer(rate=1000, burst=1000))


def rows(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_same_dedup_key_is_stored_once(sessions, worker, fake_slack) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        for _ in range(3):
            outbox.enqueue_message(s, "C1", {"text": "hello"}, "greet:1", NOW)
    assert drain(worker)
    assert [c.args["text"] for c in fake_slack.calls_to("chat.postMessage")] == ["hello"]


def test_messages_of_a_channel_keep_their_order_through_rate_limits(
    sessions, worker, fake_slack
) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        for i in range(5):
            outbox.enqueue_message(s, "C1", {"text": f"m{i}"}, f"m:{i}", NOW)
    fake_slack.fail("chat.postMessage", retry_after=1, times=2)  # 429 twice
    started = time.monotonic()
    assert drain(worker, timeout=15)
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert [m.text for m in fake_slack.messages("C1")] == [f"m{i}" for i in range(5)]
    assert all(r.status == "sent" for r in rows(sessions))


def test_server_errors_are_retried_and_permanent_errors_go_dead(
    sessions, worker, fake_slack
) -> None:  # type: ignore[no-untyped-def]
    dead: list[int] = []
    worker.on_dead = lambda row: dead.append(row.id)
    with transaction(sessions) as s:
        outbox.enqueue_message(s, "C1", {"text": "survives a 503"}, "a", NOW)
        outbox.enqueue_message(s, "C404", {"text": "nowhere"}, "b", NOW)
    fake_slack.fail("chat.postMessage", status=503, times=1)  # C404: channel_not_found itself
    assert drain(worker, timeout=15)
    by_key = {r.dedup_key: r for r in rows(sessions)}
    statuses = sorted((r.status, r.last_error) for r in by_key.values())
    assert [s for s, _ in statuses] == ["dead", "sent"]
    assert len(dead) == 1


def test_card_updates_coalesce_to_the_latest_state(sessions, worker, fake_slack) -> None:  # type: ignore[no-untyped-def]
    create(sessions)
    with transaction(sessions) as s:
        ticket = s.get_one(Ticket, 1)
        ticket.card_channel = "C1"
        outbox.enqueue_card(s, ticket, NOW)
    assert drain(worker)
    for status in ("assigned", "acknowledged", "resolved"):  # three changes, three rows
        with transaction(sessions) as s:
            ticket = s.get_one(Ticket, 1)
            ticket.status = status
            outbox.enqueue_card(s, ticket, NOW)
    assert drain(worker)
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    updates = fake_slack.calls_to("chat.update")
    assert [u.args["text"] for u in updates] == ["ESC-1 resolved v5"]
    assert [m.text for m in fake_slack.messages("C1")] == ["ESC-1 resolved v5"]


def test_a_dm_waiting_for_its_card_is_checked_once_and_goes_when_the_card_posts(
    sessions, fake_slack
) -> None:  # type: ignore[no-untyped-def]
    wall = FakeClock(NOW)
    client = WebClient(token="xoxb-test", base_url=fake_slack.url)
    worker = OutboxWorker(
        sessions, client, lambda _s, t: {"text": f"{t.key} card"}, clock=wall,
        pacer=Pacer(rate=1000, burst=1000),
    )  # fmt: skip
    create(sessions)
    with transaction(sessions) as s:
        ticket = s.get_one(Ticket, 1)
        ticket.card_channel = "C1"
        outbox.enqueue_card(s, ticket, NOW)
        outbox.enqueue_dm(
            s, "U0REP", {"text": "ESC-1 is open"}, "dm:1", NOW, ticket, after_card=True
        )
    fake_slack.fail("chat.postMessage", status=503, times=1)  # the card goes into a backoff
    worker.run_once()
    [dm] = [r for r in rows(sessions) if r.kind == "dm"]
    assert dm.next_attempt_at is not None
    assert dm.next_attempt_at.replace(tzinfo=UTC) == NOW + CARD_WAIT  # no 0.25 s polling
    for _ in range(10):  # the card's backoff runs out; the DM goes in the round after it
        wall.advance(timedelta(seconds=1))
        worker.run_once()
        if fake_slack.dms("U0REP"):
            break
    assert [m.text for m in fake_slack.messages("C1")] == ["ESC-1 card"]
    assert [m.text for m in fake_slack.dms("U0REP")] == ["ESC-1 is open"]
    assert wall.now() - NOW < timedelta(seconds=10)


def test_dm_opens_a_conversation_first(sessions, worker, fake_slack) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        outbox.enqueue_dm(s, "U0ANA", {"text": "you have a ticket"}, "dm:1", NOW)
    assert drain(worker)
    assert [m.text for m in fake_slack.dms("U0ANA")] == ["you have a ticket"]


def test_a_dm_channel_is_opened_once_per_person_and_again_when_slack_forgot_it(  # type: ignore[no-untyped-def]
    sessions, worker, fake_slack
) -> None:
    for n in range(3):
        with transaction(sessions) as s:
            outbox.enqueue_dm(s, "U0ANA", {"text": f"ana {n}"}, f"dm:a{n}", NOW)
            outbox.enqueue_dm(s, "U0BEN", {"text": f"ben {n}"}, f"dm:b{n}", NOW)
        assert drain(worker)
    opened = [c.args["users"] for c in fake_slack.calls_to("conversations.open")]
    assert sorted(opened) == ["U0ANA", "U0BEN"]
    fake_slack.fail("chat.postMessage", "channel_not_found")  # e.g. the DM was closed
    with transaction(sessions) as s:
        outbox.enqueue_dm(s, "U0ANA", {"text": "ana again"}, "dm:a9", NOW)
    assert drain(worker)
    assert len(fake_slack.calls_to("conversations.open")) == 3
    assert fake_slack.dms("U0ANA")[-1].text == "ana again"


def test_a_ten_minute_outage_loses_nothing_and_keeps_channel_order(sessions, fake_slack) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from bot.core.clock import FakeClock

    wall = FakeClock(NOW)  # the worker's clock: backoff waits pass as we move it
    worker = OutboxWorker(
        sessions,
        WebClient(token="xoxb-test", base_url=fake_slack.url),
        lambda _s, t: {"text": t.key},
        clock=wall,
        pacer=Pacer(rate=1000, burst=1000),
    )
    channels = ["C1", "C2", "C3"]
    with transaction(sessions) as s:
        for i in range(30):
            outbox.enqueue_message(s, channels[i % 3], {"text": f"m{i}"}, f"m:{i}", NOW)
    fake_slack.outage(True)
    for _ in range(60):  # ten minutes, ten seconds at a time
        worker.run_once()
        wall.advance(timedelta(seconds=10))
    assert fake_slack.messages("C1") == []
    assert all(r.status == "pending" and r.attempts > 0 for r in rows(sessions)[:3])
    fake_slack.outage(False)
    wall.advance(timedelta(minutes=6))  # past the longest backoff
    assert drain(worker, timeout=30)
    for n, channel in enumerate(channels):
        texts = [m.text for m in fake_slack.messages(channel)]
        assert texts == [f"m{i}" for i in range(n, 30, 3)]
    posted = [c.args["text"] for c in fake_slack.calls_to("chat.postMessage") if c.ok]
    assert sorted(posted) == sorted(f"m{i}" for i in range(30))  # once each


def test_dead_messages_alert_admins_and_can_be_retried(sessions, fake_slack, config) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from bot.cli import main
    from bot.delivery.outbox import alert_admins

    worker = OutboxWorker(
        sessions,
        WebClient(token="xoxb-test", base_url=fake_slack.url),
        lambda _s, t: {"text": t.key},
        pacer=Pacer(rate=1000, burst=1000),
        on_dead=lambda row: alert_admins(config, row, NOW),
    )
    with transaction(sessions) as s:
        outbox.enqueue_message(s, "C0ARCHIVED", {"text": "hello"}, "x:1", NOW)
    fake_slack.fail("chat.postMessage", error="is_archived", times=1)
    assert drain(worker)
    for admin in config.workspace.admins:
        assert "is_archived" in fake_slack.dms(admin)[0].text
    url = str(sessions.kw["bind"].url.render_as_string(hide_password=False))
    listing = CliRunner().invoke(main, ["outbox", "--database-url", url])
    assert "dead" in listing.output and "is_archived" in listing.output
    retried = CliRunner().invoke(main, ["outbox", "--retry-dead", "--database-url", url])
    assert "1 dead message(s) queued again" in retried.output
    assert drain(worker)
    assert [m.text for m in fake_slack.messages("C0ARCHIVED")] == ["hello"]


def test_a_post_whose_answer_was_lost_is_not_posted_again(sessions, fake_slack) -> None:  # type: ignore[no-untyped-def]
    worker = OutboxWorker(
        sessions,
        WebClient(token="xoxb-test", base_url=fake_slack.url),
        lambda _s, t: {"text": t.key},
        pacer=Pacer(rate=1000, burst=1000),
    )
    worker.client.retry_handlers.clear()  # let the lost answer reach the outbox as an error
    with transaction(sessions) as s:
        outbox.enqueue_message(s, "C1", {"text": "exactly once"}, "once:1", NOW)
        outbox.enqueue_dm(s, "U0ANA", {"text": "dm once"}, "once:2", NOW)
    fake_slack.lose_answers("chat.postMessage", times=2)
    worker.run_once()  # both posted by the fake, neither answer arrives
    with transaction(sessions) as s:  # retry now rather than after the backoff
        for row in s.scalars(select(OutboxMessage)):
            row.next_attempt_at = None
    assert drain(worker, timeout=15)
    assert [m.text for m in fake_slack.messages("C1")] == ["exactly once"]
    assert [m.text for m in fake_slack.dms("U0ANA")] == ["dm once"]
    assert all(r.status == "sent" for r in rows(sessions))


def test_a_worker_that_died_mid_delivery_is_not_repeated(sessions, fake_slack) -> None:  # type: ignore[no-untyped-def]
    """A lease that ran out means its worker died, maybe after Slack took the message."""
    from datetime import timedelta

    from bot.core.clock import FakeClock

    wall = FakeClock(NOW)
    client = WebClient(token="xoxb-test", base_url=fake_slack.url)
    client.retry_handlers.clear()
    worker = OutboxWorker(
        sessions,
        client,
        lambda _s, t: {"text": t.key},
        clock=wall,
        pacer=Pacer(rate=1000, burst=1000),
    )
    with transaction(sessions) as s:
        outbox.enqueue_message(s, "C1", {"text": "posted before the crash"}, "crash:1", NOW)
    # A first worker took the lease and posted, then died before recording it:
    with transaction(sessions) as s:
        row = s.scalars(select(OutboxMessage)).one()
        row.lease_owner, row.lease_until = "w-dead", NOW + timedelta(seconds=60)
    client.chat_postMessage(
        channel="C1",
        text="posted before the crash",
        metadata={"event_type": METADATA_EVENT, "event_payload": {"dedup": "crash:1"}},
    )
    assert worker.run_once() == 0  # still leased by the dead worker
    wall.advance(timedelta(seconds=61))
    assert drain(worker, timeout=15)
    assert [m.text for m in fake_slack.messages("C1")] == ["posted before the crash"]


def test_queueing_a_message_does_not_load_the_slack_client() -> None:
    """Domain code queues through ``bot.delivery.outbox``; only the worker may need slack_sdk."""
    code = (
        "import sys, bot.delivery.outbox; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'slack_sdk', 'slack_bolt'}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout.strip() == "[]"
