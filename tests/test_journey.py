"""The core journey, once over HTTP and once over Socket Mode through a real WebSocket:
escalate → routed → ack → ask the reporter → the reporter answers in the card's thread →
resolve → the daily digest with its chart.

Over Socket Mode, Slack refreshes the connection, drops it without warning, loses the ack
of the owner's "Ack" click (so the owner clicks again), and cuts the network while the
reporter answers (with the first ack of that event lost on the way back): every step must
still happen exactly once — one ticket, one card, one ack, one resume, one digest.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.reporting import digests
from storage.models import Ticket, TicketEvent
from tests.desk import INTAKE, PARTNER
from tests.test_resolution_http import VENDOR, buttons, card, escalate, modal, row, settle, thread

APP_TOKEN = "xapp-1-A0ESCBOT-1-journey"
KPI = "C06H2KX9KPI"


@pytest.fixture(params=["http", "socket"])
def app_token(request: pytest.FixtureRequest) -> str | None:
    return APP_TOKEN if request.param == "socket" else None


#: over Socket Mode, three connections in seconds (a refresh, a drop): apps.connections.open
#: is Tier 1, whose minute's pace would hold up the reconnections this journey is about
@pytest.mark.lenient(no_rate_tiers=True)
def test_core_journey(escbot, fake_slack, user_factory, clock, config, app_token) -> None:  # type: ignore[no-untyped-def]
    socket = fake_slack.socket if app_token else None
    started = time.monotonic()
    # Set-up as on a real workspace: the bot is in the channels it reads (thread replies
    # reach it only from channels it is a member of) and writes the digest to.
    for channel in (INTAKE, KPI):
        escbot.services.client.conversations_join(channel=channel)

    partner = user_factory(PARTNER)
    ticket, msg = escalate(escbot, fake_slack, partner, "Slur campaign under a creator's posts")
    owner = user_factory(row(escbot, ticket).assignee_id)
    assert row(escbot, ticket).status == "assigned" and "Ack" in buttons(msg)

    if socket:  # Slack's routine refresh, then a connection lost without warning
        socket.disconnect("refresh_requested")
        socket.wait_connected(opened=2)
        fake_slack.drop_socket()
        socket.wait_connected(opened=3)
        socket.lose_acks(1)  # the Ack is taken but its ack is lost: the owner sees an error
        assert owner.click(msg, "Ack").status_code == 504
        fake_slack.wait_until(lambda: row(escbot, ticket).status == "acknowledged")
    assert owner.click(msg, "Ack").status_code == 200  # (again, over socket: no second ack)
    fake_slack.wait_until(lambda: row(escbot, ticket).status == "acknowledged")
    settle(escbot)

    view = modal(fake_slack, owner, card(fake_slack, ticket), "Ask reporter")
    assert owner.submit_view(view, {"Question": "Which account posted first?"}).ok
    settle(escbot)
    assert row(escbot, ticket).status == "waiting_on_reporter"

    msg = card(fake_slack, ticket)
    if socket:  # the answer arrives while the app is cut off, and its first ack is lost
        with socket.offline():
            socket.lose_acks(1)
            reply = partner.message_in_thread(INTAKE, msg.ts, "The one with the red avatar")
            assert reply.status_code == 202  # Slack keeps the event for a retry
            assert owner.click(msg, "Resolve").status_code == 503  # "didn't respond"
        socket.wait_connected(opened=4)
        socket.wait_idle()
    else:
        partner.message_in_thread(INTAKE, msg.ts, "The one with the red avatar")
    fake_slack.wait_until(lambda: row(escbot, ticket).status == "acknowledged")
    settle(escbot)

    view = modal(fake_slack, owner, card(fake_slack, ticket), "Resolve")
    fields = {
        "Decision": "Removed",
        "Policy section cited": "HA-3 Slurs and dehumanising speech",
        "Rationale": "Slurs aimed at a protected group.",
        f"Was {VENDOR} right?": "No, it was wrong",
    }
    errors = owner.submit_view(view, fields).json()  # the ack's payload, over either transport
    assert errors["response_action"] == "errors" and "vendor_error_category" in errors["errors"]
    fields["If not, what went wrong"] = "Missed context"
    assert owner.submit_view(view, fields).status_code == 200
    settle(escbot)
    assert row(escbot, ticket).status == "resolved"

    clock.set(datetime(2026, 11, 27, 9, 0, 30, tzinfo=UTC))  # Friday's daily digest
    assert digests.run_due_digest(escbot.services.desk, config.digest("daily"), clock.now())
    settle(escbot)
    elapsed = time.monotonic() - started

    # Nothing lost, nothing doubled.
    with escbot.services.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1
        steps = [
            e.action
            for e in s.scalars(
                select(TicketEvent)
                .where(TicketEvent.to_status.is_not(None))
                .order_by(TicketEvent.id)
            )
        ]
    assert steps == ["create", "assign", "acknowledge", "wait_on_reporter", "resume", "resolve"]
    cards = [m for m in fake_slack.messages(INTAKE) if ticket.key in m.blocks[0]["text"]["text"]]
    assert len(cards) == 1
    assert thread(fake_slack, cards[0]).count("answered above on") == 1
    [digest] = fake_slack.messages(KPI)
    assert digest.blocks[0]["text"]["text"].startswith(":bar_chart: Daily digest")
    [png] = fake_slack.files
    assert (png.channel, png.thread_ts) == (KPI, None) and png.content.startswith(b"\x89PNG")
    assert digest.files[0]["id"] == png.id  # the chart in the digest's own message

    if socket:
        reply_deliveries = [
            d for d in socket.deliveries if d.payload.get("event", {}).get("thread_ts") == msg.ts
        ]
        assert [d.retry_attempt for d in reply_deliveries] == [1, 2]  # after the cut; ack lost
        assert socket.failures == []
        latencies = sorted(d.latency for d in socket.deliveries if d.latency is not None)
        print(
            f"\nsocket journey {elapsed:.2f}s, {len(latencies)} envelopes, ack latency "
            f"p50 {latencies[len(latencies) // 2] * 1000:.0f} ms max {latencies[-1] * 1000:.0f} ms"
        )
    else:
        print(f"\nhttp journey {elapsed:.2f}s")
