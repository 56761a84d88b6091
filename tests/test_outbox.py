"""The outbox against the fake Slack: order, dedup, coalescing, Retry-After, dead letters."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import outbox
from bot.outbox import OutboxWorker, Pacer
from storage.db import transaction
from storage.models import OutboxMessage, Ticket
from tests.test_keys import create

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


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
    assert worker.drain()
    assert [c.args["text"] for c in fake_slack.calls_to("chat.postMessage")] == ["hello"]


def test_messages_of_a_channel_keep_their_order_through_rate_limits(
    sessions, worker, fake_slack
) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        for i in range(5):
            outbox.enqueue_message(s, "C1", {"text": f"m{i}"}, f"m:{i}", NOW)
    fake_slack.fail("chat.postMessage", retry_after=1, times=2)  # 429 twice
    started = time.monotonic()
    assert worker.drain(timeout=15)
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
    fake_slack.fail("chat.postMessage", status=503, times=1)
    fake_slack.fail("chat.postMessage", error="channel_not_found", times=1)
    assert worker.drain(timeout=15)
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
    assert worker.drain()
    with transaction(sessions) as s:
        ticket = s.get_one(Ticket, 1)
        for status in ("assigned", "acknowledged", "resolved"):
            ticket.status = status
            ticket.version += 1
            outbox.enqueue_card(s, ticket, NOW)
    assert worker.drain()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    updates = fake_slack.calls_to("chat.update")
    assert [u.args["text"] for u in updates] == ["ESC-1 resolved v4"]
    assert [m.text for m in fake_slack.messages("C1")] == ["ESC-1 resolved v4"]


def test_dm_opens_a_conversation_first(sessions, worker, fake_slack) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        outbox.enqueue_dm(s, "U0ANA", {"text": "you have a ticket"}, "dm:1", NOW)
    assert worker.drain()
    assert [m.text for m in fake_slack.dms("U0ANA")] == ["you have a ticket"]
