"""The outbox under Slack's refusals, against the fake Slack over HTTP: a join then a retry,
dead letters that name their fix, and no message that holds back its channel's others."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.clock import FakeClock
from bot.core.metrics import Metrics
from bot.delivery import outbox
from bot.delivery.worker import OutboxWorker, Pacer
from storage.db import transaction
from storage.models import OutboxMessage, Ticket
from tests.outbox_support import drain
from tests.test_keys import create

#: These tests move the worker's injected clock to pass backoffs; Slack's rate buckets
#: refill with wall time, so a 429's Retry-After would never pass on that clock. Rate
#: limits are test_emulator_rate's, test_outbox_sender's and bench.delivery's subject.
pytestmark = pytest.mark.lenient(no_rate_tiers=True)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
PRIVATE = "C0PRIVATE1"


@pytest.fixture(autouse=True)
def channels(fake_slack) -> None:  # type: ignore[no-untyped-def]
    """Public channels escbot is not in yet: a post is refused with not_in_channel, as on Slack."""
    for channel in ("C1", "C2"):
        fake_slack.add_channel(channel, channel.lower())


@pytest.fixture
def wall() -> FakeClock:
    """The worker's clock: a backoff ends only when the test moves it."""
    return FakeClock(NOW)


@pytest.fixture
def worker(sessions: sessionmaker[Session], fake_slack, wall) -> OutboxWorker:  # type: ignore[no-untyped-def]
    return OutboxWorker(
        sessions,
        WebClient(token="xoxb-test", base_url=fake_slack.url),
        lambda _s, t: {"text": f"{t.key} card"},
        clock=wall,
        pacer=Pacer(rate=1000, burst=1000),
        metrics=Metrics(),
        senders=1,  # a round's calls in a known order, so each injected fault hits its target
    )


def by_key(sessions: sessionmaker[Session]) -> dict[str, OutboxMessage]:
    with sessions() as s:
        return {r.dedup_key: r for r in s.scalars(select(OutboxMessage))}


def dead_letters(worker: OutboxWorker, error: str, fix: str) -> float | None:
    assert worker.metrics is not None
    return worker.metrics.registry.get_sample_value(
        "escbot_outbox_dead_letters_total", {"error": error, "fix": fix}
    )


def dead_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "is dead" in r.getMessage()]


def test_not_in_channel_joins_once_then_posts(sessions, worker, fake_slack) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        outbox.enqueue_message(s, "C1", {"text": "hello"}, "m:1", NOW)
    assert drain(worker)
    assert [c.args["channel"] for c in fake_slack.calls_to("conversations.join")] == ["C1"]
    assert [m.text for m in fake_slack.messages("C1")] == ["hello"]
    assert by_key(sessions)["m:1"].status == "sent"


def test_a_private_channel_not_invited_dead_letters_once_and_the_rest_goes_on(
    sessions, worker, fake_slack, caplog
) -> None:  # type: ignore[no-untyped-def]
    fake_slack.add_channel(PRIVATE, "tns-private", is_private=True)
    with transaction(sessions) as s:
        outbox.enqueue_message(s, PRIVATE, {"text": "to the private channel"}, "p:1", NOW)
        outbox.enqueue_message(s, "C1", {"text": "elsewhere"}, "c:1", NOW)
        outbox.enqueue_dm(s, "U0ANA", {"text": "a DM"}, "dm:1", NOW)
    fake_slack.fail("chat.postMessage", "not_in_channel")  # the first post: the private one
    fake_slack.fail("conversations.join", "method_not_supported_for_channel_type")
    with caplog.at_level(logging.INFO, logger="bot.delivery.worker"):
        assert drain(worker)
    rows = by_key(sessions)
    assert rows["p:1"].status == "dead" and rows["p:1"].attempts == 0  # at once, no retries
    assert rows["p:1"].last_error == "not_in_channel (join: method_not_supported_for_channel_type)"
    assert rows["p:1"].result == {"fix": f"invite @escbot to <#{PRIVATE}>"}
    [line] = dead_lines(caplog)
    assert f"invite @escbot to <#{PRIVATE}>" in line
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]  # no retry noise
    assert dead_letters(worker, "not_in_channel", f"invite @escbot to <#{PRIVATE}>") == 1
    assert [m.text for m in fake_slack.messages("C1")] == ["elsewhere"]
    assert [m.text for m in fake_slack.dms("U0ANA")] == ["a DM"]
    with transaction(sessions) as s:  # later messages: the channel is not wedged either
        outbox.enqueue_message(s, "C1", {"text": "later"}, "c:2", NOW)
    assert drain(worker)
    assert [m.text for m in fake_slack.messages("C1")] == ["elsewhere", "later"]


@pytest.mark.parametrize(
    ("error", "extra", "fix"),
    [
        ("missing_scope", {"needed": "im:history", "provided": "chat:write"}, None),
        (
            "channel_not_found",
            {},
            "check that <#C1> exists; if it is private, invite @escbot to it",
        ),
        ("is_archived", {}, "unarchive <#C1> or point app.yaml at a live channel"),
    ],
)
def test_errors_no_retry_cures_go_dead_at_once_naming_the_fix(
    sessions, worker, fake_slack, caplog, error, extra, fix
) -> None:  # type: ignore[no-untyped-def]
    fix = fix or "add scope im:history to the app and reinstall it"
    with transaction(sessions) as s:
        outbox.enqueue_message(s, "C1", {"text": "doomed"}, "m:1", NOW)
    fake_slack.fail("chat.postMessage", error, **extra)
    with caplog.at_level(logging.INFO, logger="bot.delivery.worker"):
        assert drain(worker)
    row = by_key(sessions)["m:1"]
    assert (row.status, row.attempts, row.last_error, row.result) == (
        "dead",
        0,
        error,
        {"fix": fix},
    )
    [line] = dead_lines(caplog)
    assert error in line and fix in line
    assert dead_letters(worker, error, fix) == 1
    assert fake_slack.calls_to("conversations.join") == []


def test_the_missing_scope_of_a_look_up_after_a_lost_answer_is_named(
    sessions, worker, fake_slack
) -> None:  # type: ignore[no-untyped-def]
    """A DM whose answer was lost is looked up with conversations.history (im:history)."""
    worker.client.retry_handlers.clear()
    with transaction(sessions) as s:
        outbox.enqueue_dm(s, "U0ANA", {"text": "dm once"}, "dm:1", NOW)
    fake_slack.lose_answers("chat.postMessage")
    worker.run_once()
    fake_slack.fail("conversations.history", "missing_scope", needed="im:history")
    worker.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    assert drain(worker)
    row = by_key(sessions)["dm:1"]
    assert row.status == "dead"
    assert row.result == {"fix": "add scope im:history to the app and reinstall it"}
    assert [m.text for m in fake_slack.dms("U0ANA")] == ["dm once"]  # posted once, never twice


def test_a_message_in_backoff_does_not_hold_back_the_next_one(
    sessions, worker, fake_slack, wall
) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        outbox.enqueue_message(s, "C1", {"text": "stuck"}, "m:1", NOW)
        outbox.enqueue_message(s, "C1", {"text": "unrelated"}, "m:2", NOW)
    fake_slack.fail("chat.postMessage", status=503)  # the first: stuck in backoff
    for _ in range(3):
        worker.run_once()
    assert [m.text for m in fake_slack.messages("C1")] == ["unrelated"]
    stuck = by_key(sessions)["m:1"]
    assert (stuck.status, stuck.attempts) == ("pending", 1)
    wall.advance(timedelta(minutes=6))  # past the longest backoff
    assert drain(worker)
    assert [m.text for m in fake_slack.messages("C1")] == ["unrelated", "stuck"]


def test_a_ticket_keeps_its_thread_in_order_while_another_goes_past(
    sessions, worker, fake_slack, wall
) -> None:  # type: ignore[no-untyped-def]
    create(sessions)
    create(sessions)
    with transaction(sessions) as s:
        first, second = s.get_one(Ticket, 1), s.get_one(Ticket, 2)
        first.card_channel = second.card_channel = "C1"
        outbox.enqueue_card(s, first, NOW)
        for n in range(3):
            outbox.enqueue_thread(s, first, {"text": f"line {n}"}, f"line:{n}", NOW)
        outbox.enqueue_card(s, second, NOW)
    fake_slack.fail("chat.postMessage", status=503)  # ESC-1's card waits out a backoff
    for _ in range(3):
        worker.run_once()
    assert [m.text for m in fake_slack.messages("C1")] == ["ESC-2 card"]  # no line before its card
    wall.advance(timedelta(minutes=6))
    fake_slack.fail("chat.postMessage", status=503)  # and then the first line does too
    for _ in range(3):
        worker.run_once()
    wall.advance(timedelta(minutes=6))
    assert drain(worker)
    card = next(m for m in fake_slack.messages("C1") if m.text == "ESC-1 card")
    replies = [m.text for m in fake_slack.thread("C1", card.ts) if m.ts != card.ts]
    assert replies == ["line 0", "line 1", "line 2"]


def enqueue_digest(session: Session, channel: str, n: int) -> None:
    outbox.enqueue_message(session, channel, {"text": f"digest {n}"}, f"digest:{n}", NOW)
    outbox.enqueue_upload(
        session,
        channel,
        content=b"\x89PNG chart",
        filename=f"chart-{n}.png",
        title="chart",
        alt_txt="a chart",
        thread_of=f"digest:{n}",
        dedup_key=f"chart:{n}",
        now=NOW,
    )


def test_a_chart_upload_joins_the_channel_like_a_post(sessions, worker, fake_slack) -> None:  # type: ignore[no-untyped-def]
    fake_slack.invite("C1")  # the digest posts; only its chart meets not_in_channel
    with transaction(sessions) as s:
        enqueue_digest(s, "C1", 1)
    fake_slack.fail("files.completeUploadExternal", "not_in_channel")
    assert drain(worker)
    assert len(fake_slack.calls_to("conversations.join")) == 1
    [digest] = [m for m in fake_slack.messages("C1") if m.text == "digest 1"]
    [chart] = [f for f in fake_slack.files if f.completed]
    assert (chart.channel, chart.thread_ts) == ("C1", digest.ts)


def test_a_chart_that_cannot_be_uploaded_leaves_the_digest_and_blocks_nothing(
    sessions, worker, fake_slack, wall, caplog
) -> None:  # type: ignore[no-untyped-def]
    fake_slack.invite("C1")
    with transaction(sessions) as s:
        enqueue_digest(s, "C1", 1)
    fake_slack.fail("files.completeUploadExternal", "not_in_channel")
    fake_slack.fail("conversations.join", "method_not_supported_for_channel_type")
    with caplog.at_level(logging.INFO, logger="bot.delivery.worker"):
        assert drain(worker)
    rows = by_key(sessions)
    assert (rows["digest:1"].status, rows["chart:1"].status) == ("sent", "dead")
    assert len(dead_lines(caplog)) == 1
    # a chart stuck in backoff holds back no later digest either
    with transaction(sessions) as s:
        enqueue_digest(s, "C1", 2)
        outbox.enqueue_message(s, "C1", {"text": "something else"}, "other", NOW)
    fake_slack.fail("files.getUploadURLExternal", status=503)
    assert drain(worker, timeout=3) is False  # the chart waits out its backoff…
    assert [m.text for m in fake_slack.messages("C1")] == ["digest 1", "digest 2", "something else"]
    wall.advance(timedelta(minutes=6))
    assert drain(worker)  # …and then goes into its digest's thread
    digest = next(m for m in fake_slack.messages("C1") if m.text == "digest 2")
    assert [f.thread_ts for f in fake_slack.files if f.completed] == [digest.ts]
