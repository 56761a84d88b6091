"""A reporter's answer reaches escbot under Slack's membership rules, over real HTTP.

Slack sends a channel's messages only to members, so these hold only because escbot joins
the intake channel at start; a reporter may also answer in a DM to escbot (message.im).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.delivery.worker import Pacer
from bot.reporting import digests
from bot.sandbox.emulator.fake_slack import Message
from storage.models import OutboxMessage, Ticket
from tests.desk import INTAKE, LEAD, PARTNER
from tests.test_resolution_http import card, escalate, modal, row, settle, thread


@pytest.fixture(autouse=True)
def quick_delivery(escbot) -> None:  # type: ignore[no-untyped-def]
    escbot.services.outbox.pacer = Pacer(rate=1000, burst=1000)


def ask(escbot, fake_slack, user_factory, clock, summary: str) -> tuple[Ticket, Message]:  # type: ignore[no-untyped-def]
    """Escalate as the partner, then the owner asks them a question; returns the card."""
    ticket, _ = escalate(escbot, fake_slack, user_factory(PARTNER), summary)
    owner = user_factory(row(escbot, ticket).assignee_id)
    clock.advance(timedelta(minutes=10))
    view = modal(fake_slack, owner, card(fake_slack, ticket), "Ask reporter")
    assert owner.submit_view(view, {"Question": "Which account posted first?"}).ok
    settle(escbot)
    assert row(escbot, ticket).status == "waiting_on_reporter"
    return ticket, card(fake_slack, ticket)


def dm_text(fake_slack, user: str) -> str:  # type: ignore[no-untyped-def]
    return json.dumps([m.blocks for m in fake_slack.dms(user)], ensure_ascii=False)


def test_escbot_joins_the_intake_channel_at_start(escbot, fake_slack) -> None:  # type: ignore[no-untyped-def]
    assert fake_slack.is_member(INTAKE)
    joins = {c.args["channel"] for c in fake_slack.calls_to("conversations.join") if c.ok}
    assert INTAKE in joins and "C06H2KX9KPI" in joins  # the intake and the digest channel


def test_thread_reply_to_ask_reporter_resumes_the_clock(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory, clock
) -> None:
    ticket, msg = ask(escbot, fake_slack, user_factory, clock, "Slurs under a livestream")
    clock.advance(timedelta(hours=1))
    assert user_factory(LEAD).message_in_thread(INTAKE, msg.ts, "not the reporter") is not None
    resp = user_factory(PARTNER).message_in_thread(INTAKE, msg.ts, "The red avatar one")
    assert resp is not None and resp.status_code == 200  # delivered: escbot is a member
    fake_slack.wait_until(lambda: row(escbot, ticket).status == "acknowledged")
    settle(escbot)
    assert row(escbot, ticket).paused_seconds == 3600
    assert "answered above on" in thread(fake_slack, msg)


def test_dm_reply_resumes_the_clock_and_the_ask_links_to_the_thread(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory, clock
) -> None:
    ticket, msg = ask(escbot, fake_slack, user_factory, clock, "Hate raid on a stream")
    permalink = f"https://fake.slack.com/archives/{INTAKE}/p{msg.ts.replace('.', '')}"
    asked = dm_text(fake_slack, PARTNER)
    assert "has a question" in asked and f"<{permalink}|the ticket's thread>" in asked
    assert "right here" in asked

    clock.advance(timedelta(minutes=30))
    resp = user_factory(PARTNER).dm("It was the account with the red avatar")
    assert resp is not None and resp.status_code == 200
    fake_slack.wait_until(lambda: row(escbot, ticket).status == "acknowledged")
    settle(escbot)
    t = row(escbot, ticket)
    assert (t.paused_seconds, t.waiting_since) == (1800, None)
    assert "answered on" in thread(fake_slack, msg)  # the owner sees it where they work
    assert f"your answer is on *{ticket.key}*" in dm_text(fake_slack, PARTNER)


def test_dm_reply_with_several_waiting_tickets_answers_the_latest_or_the_named(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory, clock
) -> None:
    first, _ = ask(escbot, fake_slack, user_factory, clock, "Coded slurs in comments")
    clock.advance(timedelta(minutes=5))
    second, _ = ask(escbot, fake_slack, user_factory, clock, "Extremist symbols in avatars")
    partner = user_factory(PARTNER)

    partner.dm("Yes, all of them")  # answers the most recent question
    fake_slack.wait_until(lambda: row(escbot, second).status == "acknowledged")
    settle(escbot)
    assert row(escbot, first).status == "waiting_on_reporter"
    said = dm_text(fake_slack, PARTNER)
    assert f"your answer is on *{second.key}*" in said
    assert f"Still waiting on you: {first.key}" in said

    partner.dm(f"About {first.key.lower()}: the second account")  # names the older one
    fake_slack.wait_until(lambda: row(escbot, first).status == "acknowledged")
    settle(escbot)


def test_a_dm_with_nothing_waiting_gets_a_pointer(escbot, fake_slack, user_factory) -> None:  # type: ignore[no-untyped-def]
    assert user_factory(PARTNER).dm("hello?") is not None
    fake_slack.wait_until(lambda: "Nothing is waiting" in dm_text(fake_slack, PARTNER))


class TestPrivateChannels:
    """app.yaml's digest channel is private; the intake channel private and invited."""

    @pytest.fixture
    def fake_slack(self, fake_slack):  # type: ignore[no-untyped-def]
        fake_slack.add_channel("C06H2KX9KPI", "tns-escalations-kpi", is_private=True)
        fake_slack.add_channel(INTAKE, "tns-escalations", is_private=True)
        fake_slack.invite(INTAKE)
        return fake_slack

    @pytest.fixture
    def escbot(self, caplog, fake_slack, escbot):  # type: ignore[no-untyped-def]
        return escbot

    def test_start_logs_the_invite_line_for_a_private_channel(  # type: ignore[no-untyped-def]
        self, caplog, escbot
    ) -> None:
        lines = [
            r.getMessage()
            for r in caplog.get_records("setup")
            if r.name == "bot.slack.membership" and r.levelno == logging.WARNING
        ]
        assert lines == [
            "invite @escbot to C06H2KX9KPI (private): a person types /invite @escbot in that "
            "channel (digests.daily.channel in app.yaml); until then escbot can neither "
            "post nor read there"
        ]

    def test_a_digest_to_the_uninvited_channel_dead_letters_alone(  # type: ignore[no-untyped-def]
        self, escbot, fake_slack, user_factory, clock, config
    ) -> None:
        """The weekly digest (with a chart) can't reach its private channel: one dead letter
        naming the fix, its chart dropped with it, and intake goes on in the other channel."""
        escalate(escbot, fake_slack, user_factory(PARTNER), "Before the digest")
        weekly = config.digest("weekly")
        assert digests.run_due_digest(escbot.services.desk, weekly, clock.now()) is not None
        ticket, _ = escalate(escbot, fake_slack, user_factory(PARTNER), "After the digest")
        settle(escbot)
        with escbot.services.sessions() as s:
            rows = s.scalars(select(OutboxMessage).where(OutboxMessage.channel == weekly.channel))
            states = sorted((r.kind, r.status, (r.result or {}).get("fix")) for r in rows)
        assert states == [
            (
                "message",
                "dead",
                f"check that <#{weekly.channel}> exists; if it is private, invite @escbot to it",
            ),
            ("upload", "superseded", None),
        ]
        assert fake_slack.messages(weekly.channel) == []
        assert card(fake_slack, ticket) is not None  # the intake channel was not held up

    def test_a_private_intake_channel_hears_the_reporter(  # type: ignore[no-untyped-def]
        self, escbot, fake_slack, user_factory, clock
    ) -> None:
        ticket, msg = ask(escbot, fake_slack, user_factory, clock, "Hate symbols in a group")
        resp = user_factory(PARTNER).message_in_thread(INTAKE, msg.ts, "The first one")
        assert resp is not None  # message.groups: delivered because escbot was invited
        fake_slack.wait_until(lambda: row(escbot, ticket).status == "acknowledged")
