"""Resolution over real HTTP against the fake Slack, time moved with the FakeClock:
new → assigned → acknowledged → waiting → acknowledged → resolved → reopened → resolved,
every step on the card, in the thread and in the audit trail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.delivery.worker import Pacer
from bot.sandbox.emulator.fake_slack import Message
from storage.models import Ticket, TicketEvent
from tests.desk import ADMIN, INTAKE, JONAS, LEAD, PARTNER
from tests.outbox_support import drain

VENDOR = "Northwind CX (Manila)"


@pytest.fixture(autouse=True)
def quick_delivery(escbot) -> None:  # type: ignore[no-untyped-def]
    """Slack's one-message-a-second pacing is the outbox's own test; here it only slows."""
    escbot.services.outbox.pacer = Pacer(rate=1000, burst=1000)


def escalate(escbot, fake_slack, partner, summary: str) -> tuple[Ticket, Message]:  # type: ignore[no-untyped-def]
    """``/escalate`` through the intake modal, a vendor decided first; returns the posted card."""
    mark = fake_slack.mark()
    assert partner.command("/escalate", text=summary).status_code == 200
    fake_slack.wait_for("views.open", since=mark)
    view = fake_slack.last_view(partner.user_id)
    assert partner.submit_view(view, {"Your team": "Legal", "Vendor": VENDOR}).status_code == 200
    settle(escbot)
    with escbot.services.sessions() as s:
        ticket = s.scalars(select(Ticket).order_by(Ticket.id.desc())).first()
    assert ticket is not None
    return ticket, card(fake_slack, ticket)


def settle(escbot) -> None:  # type: ignore[no-untyped-def]
    assert drain(escbot.services.outbox)


def card(fake_slack, ticket: Ticket) -> Message:  # type: ignore[no-untyped-def]
    return next(m for m in fake_slack.messages(INTAKE) if ticket.key in m.blocks[0]["text"]["text"])


def shown(message: Message) -> str:
    return json.dumps(message.blocks, ensure_ascii=False)


def buttons(message: Message) -> list[str]:
    """What a card offers: its buttons and the items of its overflow menu (⋯)."""
    out = []
    for b in message.blocks:
        for el in b["elements"] if b["type"] == "actions" else []:
            options = el.get("options", []) if el["type"] == "overflow" else [el]
            out += [o["text"]["text"] for o in options]
    return out


def thread(fake_slack, message: Message) -> str:  # type: ignore[no-untyped-def]
    return json.dumps([m.blocks for m in fake_slack.thread(INTAKE, message.ts)], ensure_ascii=False)


def row(escbot, ticket: Ticket) -> Ticket:  # type: ignore[no-untyped-def]
    with escbot.services.sessions() as s:
        return s.get_one(Ticket, ticket.id)


def modal(fake_slack, user, message: Message, button: str) -> dict:  # type: ignore[no-untyped-def]
    mark = fake_slack.mark()
    assert user.click(message, button).status_code == 200
    fake_slack.wait_for("views.open", since=mark)
    return fake_slack.last_view(user.user_id)


def test_a_ticket_through_its_whole_life(escbot, fake_slack, user_factory, clock) -> None:  # type: ignore[no-untyped-def]
    partner = user_factory(PARTNER)
    ticket, msg = escalate(escbot, fake_slack, partner, "Slur campaign under a creator's posts")
    owner_id = row(escbot, ticket).assignee_id
    assert owner_id and row(escbot, ticket).status == "assigned"
    owner = user_factory(owner_id)
    assert "· Needs ack" in shown(msg)
    assert {"Ack", "Resolve", "Ask reporter", "Add follow-up"} <= set(buttons(msg))

    # acknowledged (routing's button)
    clock.advance(timedelta(minutes=20))
    owner.click(msg, "Ack")
    fake_slack.wait_until(lambda: row(escbot, ticket).status == "acknowledged")
    settle(escbot)
    assert row(escbot, ticket).tta_seconds == 20 * 60

    # waiting on the reporter: the question is in the thread, the clocks stop
    clock.advance(timedelta(hours=1))
    msg = card(fake_slack, ticket)
    view = modal(fake_slack, owner, msg, "Ask reporter")
    assert owner.submit_view(
        view, {"Question": "Which of the accounts <!channel> posted first?"}
    ).ok
    settle(escbot)
    t = row(escbot, ticket)
    assert (t.status, t.waiting_since) == ("waiting_on_reporter", clock.now())
    msg = card(fake_slack, ticket)
    assert "· Waiting on reporter" in shown(msg)
    assert "paused while waiting on the reporter" in shown(msg)
    assert "Ask reporter" not in buttons(msg)
    assert f"<@{PARTNER}>, <@{owner_id}> has a question" in thread(fake_slack, msg)
    assert "&lt;!channel&gt;" in thread(fake_slack, msg)  # user text can't ping
    assert "has a question" in json.dumps([m.blocks for m in fake_slack.dms(PARTNER)])

    # someone else's reply does nothing; the reporter's reply resumes
    clock.advance(timedelta(hours=2))
    user_factory(LEAD).message_in_thread(INTAKE, msg.ts, "I'll wait too")
    partner.message_in_thread(INTAKE, msg.ts, "The one with the red avatar")
    fake_slack.wait_until(lambda: row(escbot, ticket).status == "acknowledged")
    settle(escbot)
    t = row(escbot, ticket)
    assert (t.paused_seconds, t.waiting_since) == (2 * 3600, None)
    assert "answered above on" in thread(fake_slack, msg) and "paused 2h" in thread(fake_slack, msg)

    # resolve: the vendor question is required to say what went wrong
    clock.advance(timedelta(minutes=30))
    msg = card(fake_slack, ticket)
    view = modal(fake_slack, owner, msg, "Resolve")
    fields = {
        "Decision": "Removed",
        "Policy section cited": "HA-3 Slurs and dehumanising speech",
        "Rationale": "Slurs aimed at a protected group; the vendor missed the coded spelling.",
        f"Was {VENDOR} right?": "No, it was wrong",
    }
    resp = owner.submit_view(view, fields)
    assert resp.json()["response_action"] == "errors"
    assert set(resp.json()["errors"]) == {"vendor_error_category"}
    assert row(escbot, ticket).status == "acknowledged"
    resp = owner.submit_view(view, {**fields, "If not, what went wrong": "Missed context"})
    assert resp.status_code == 200 and not resp.content.strip(b"{} ")
    settle(escbot)
    t = row(escbot, ticket)
    assert (t.status, t.decision, t.vendor_correct, t.vendor_error_category) == (
        "resolved",
        "removed",
        False,
        "missed_context",
    )
    assert t.ttr_seconds == (20 + 60 + 30) * 60  # 3h50m counted minus the 2h pause
    msg = card(fake_slack, ticket)
    assert "*Removed*" in shown(msg) and "missed context" in shown(msg)  # the decision line
    assert buttons(msg)[:1] == ["Reopen"] and "Resolve" not in buttons(msg)
    assert f"*{ticket.key} resolved* by <@{owner_id}>" in thread(fake_slack, msg)
    outcome_dm = json.dumps([m.blocks for m in fake_slack.dms(PARTNER)])
    assert "has been resolved" in outcome_dm and "coded spelling" in outcome_dm

    # the reporter reopens from the card, with a reason
    clock.advance(timedelta(days=1))
    view = modal(fake_slack, partner, msg, "Reopen")
    assert partner.submit_view(view, {"Why reopen it?": "Two more accounts appeared"}).ok
    settle(escbot)
    t = row(escbot, ticket)
    assert (t.status, t.reopened_count, t.ttr_seconds) == ("reopened", 1, None)
    msg = card(fake_slack, ticket)
    assert "· Reopened · needs ack" in shown(msg) and "Resolve" in buttons(msg)
    assert "reopened* by" in thread(fake_slack, msg) and "Two more accounts" in thread(
        fake_slack, msg
    )
    assert "Two more accounts" in json.dumps([m.blocks for m in fake_slack.dms(owner_id)])

    # resolved again
    clock.advance(timedelta(minutes=10))
    view = modal(fake_slack, owner, msg, "Resolve")
    fields = {**fields, f"Was {VENDOR} right?": "Yes, their decision stands"}
    assert owner.submit_view(view, fields).ok
    settle(escbot)
    t = row(escbot, ticket)
    assert (t.status, t.vendor_correct) == ("resolved", True)
    assert t.ttr_seconds == (110 + 10) * 60  # the day it spent resolved doesn't count

    with escbot.services.sessions() as s:
        steps = [
            (e.action, e.actor_id)
            for e in s.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id, TicketEvent.to_status.is_not(None))
                .order_by(TicketEvent.id)
            )
        ]
    assert steps == [
        ("create", PARTNER),
        ("assign", "escbot"),
        ("acknowledge", owner_id),
        ("wait_on_reporter", owner_id),
        ("resume", PARTNER),
        ("resolve", owner_id),
        ("reopen", PARTNER),
        ("resolve", owner_id),
    ]

    # /escalate status shows the trail readably
    mark = fake_slack.mark()
    partner.command("/escalate", text=f"status {ticket.key}")
    status = json.dumps(fake_slack.wait_for("response_url", since=mark).args)
    for words in ("waiting on the reporter", "resumed", "reopened", "resolved"):
        assert words in status


def told(fake_slack, user, click) -> str:  # type: ignore[no-untyped-def]
    """What ``click()`` made escbot tell ``user`` privately."""
    before = len(fake_slack.ephemerals(user.user_id))
    click()
    fake_slack.wait_until(lambda: len(fake_slack.ephemerals(user.user_id)) > before)
    return str(fake_slack.ephemerals(user.user_id)[before].text)


def test_stale_and_forbidden_clicks_are_explained(escbot, fake_slack, user_factory, clock) -> None:  # type: ignore[no-untyped-def]
    partner = user_factory(PARTNER)
    ticket, msg = escalate(escbot, fake_slack, partner, "Hateful symbols in a profile banner")
    mark, (status, trail) = fake_slack.mark(), state(escbot, ticket)
    refused = told(fake_slack, partner, lambda: partner.click(msg, "Resolve"))
    assert refused == (
        f":information_source: Only members of the Critical Harms pod (and escbot admins) "
        f"can resolve {ticket.key}; nothing was changed."
    )
    assert not [c for c in fake_slack.calls[mark:] if c.method == "views.open"]
    assert state(escbot, ticket) == (status, [*trail, "refused"])  # audited, nothing else

    admin = user_factory(ADMIN)
    view = modal(fake_slack, admin, msg, "Resolve")
    fields = {
        "Decision": "No violation",
        "Rationale": "Satire, per HA guidance.",
        f"Was {VENDOR} right?": "Yes, their decision stands",
    }
    assert admin.submit_view(view, fields).ok
    settle(escbot)
    # a second click on the old card's Resolve: explained, nothing opens
    mark, resolved = fake_slack.mark(), state(escbot, ticket)
    assert resolved[0] == "resolved"
    assert "already resolved" in told(fake_slack, admin, lambda: admin.click(msg, "Resolve"))
    assert not [c for c in fake_slack.calls[mark:] if c.method == "views.open"]

    # outside the reopen window, a clear message
    clock.advance(timedelta(days=15))
    reopen = lambda: partner.click(card(fake_slack, ticket), "Reopen")  # noqa: E731
    assert "reopened for 14d after that" in told(fake_slack, partner, reopen)
    assert state(escbot, ticket) == resolved


def state(escbot, ticket: Ticket) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """The ticket's status and its trail's actions, oldest first."""
    with escbot.services.sessions() as s:
        status = s.get_one(Ticket, ticket.id).status
        events = s.scalars(
            select(TicketEvent.action)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.id)
        )
        return status, list(events)


def test_irrelevant_messages_are_acknowledged(escbot, fake_slack, user_factory) -> None:  # type: ignore[no-untyped-def]
    partner = user_factory(PARTNER)
    # Slack sends nothing from a channel escbot is not in (fake_slack.message_event).
    assert partner.message("C07PARTNERS", "hello") is None
    assert partner.message(INTAKE, "top-level chatter").status_code == 200
    assert partner.message_in_thread(INTAKE, "1.000001", "a thread of no ticket").status_code == 200
    dm = fake_slack.dm_channel(PARTNER)
    assert partner.message(dm, "hi bot").status_code == 200


def test_follow_up_from_the_card_reminded_and_closed_from_the_dm(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory, clock
) -> None:
    partner = user_factory(PARTNER)
    ticket, msg = escalate(escbot, fake_slack, partner, "Vendor keeps missing coded slurs")
    lead, owner = user_factory(LEAD), user_factory(JONAS)
    view = modal(fake_slack, lead, msg, "Add follow-up")
    fields = {
        "Kind": "Vendor training",
        "What needs doing": "Coded-slur refresher for the vendor",
        "Owner": JONAS,
        "Due date": "2026-11-20",
    }
    resp = lead.submit_view(view, fields)
    assert resp.json() == {
        "response_action": "errors",
        "errors": {"due": "The due date can't be in the past."},
    }
    assert lead.submit_view(view, {**fields, "Due date": "2026-12-07"}).ok
    settle(escbot)
    assert "made you the owner" in json.dumps([m.blocks for m in fake_slack.dms(JONAS)])
    msg = card(fake_slack, ticket)
    assert "*Follow-ups*\\n1 open" in shown(msg)

    # two days before the due date (Mon 7 Dec, 18:00 Dublin): one reminder, with buttons
    clock.set(datetime(2026, 12, 5, 18, 0, tzinfo=UTC))
    escbot.services.timers.run_due()
    escbot.services.timers.run_due()
    settle(escbot)
    reminders = [m for m in fake_slack.dms(JONAS) if "Due Mon 07 Dec" in shown(m)]
    assert len(reminders) == 1
    # at the due time: "due now" (Jonas is in Berlin: 19:00 his time), not yet overdue
    clock.set(datetime(2026, 12, 7, 18, 0, tzinfo=UTC))
    escbot.services.timers.run_due()
    settle(escbot)
    [due_now] = [m for m in fake_slack.dms(JONAS) if "*Due now*" in shown(m)]
    assert "19:00 your time" in shown(due_now) and "Overdue" not in shown(due_now)
    assert "1 overdue" not in shown(card(fake_slack, ticket))
    clock.set(datetime(2026, 12, 8, 18, 0, tzinfo=UTC))  # a day later: overdue
    escbot.services.timers.run_due()
    settle(escbot)
    [overdue] = [m for m in fake_slack.dms(JONAS) if "*Overdue*" in shown(m)]
    assert "*Follow-ups*\\n1 overdue" in shown(card(fake_slack, ticket))

    # Done from the DM: the DM says so, the thread and the card too; no more reminders
    assert owner.click(overdue, "Done").status_code == 200
    fake_slack.wait_until(
        lambda: "closed the follow-up" in shown(fake_slack.message(overdue.channel, overdue.ts))
    )
    settle(escbot)
    assert buttons(fake_slack.message(overdue.channel, overdue.ts)) == []
    assert "closed the follow-up" in thread(fake_slack, msg)
    assert "*Follow-ups*\\n1 done" in shown(card(fake_slack, ticket))
    sent = len(fake_slack.dms(JONAS))
    clock.advance(timedelta(days=5))
    escbot.services.timers.run_due()
    settle(escbot)
    assert len(fake_slack.dms(JONAS)) == sent

    # /escalate followup ESC-n opens the same modal; /escalate followups lists them
    mark = fake_slack.mark()
    lead.command("/escalate", text=f"followup {ticket.key}")
    fake_slack.wait_for("views.open", since=mark)
    assert fake_slack.last_view(LEAD)["callback_id"] == "followup_modal"
    mark = fake_slack.mark()
    owner.command("/escalate", text="followups")
    listed = json.dumps(fake_slack.wait_for("response_url", since=mark).args)
    assert "*Yours* (0 open)" in listed and "The team" in listed


def test_app_home_over_http(escbot, fake_slack, user_factory) -> None:  # type: ignore[no-untyped-def]
    partner = user_factory(PARTNER)
    ticket, _ = escalate(escbot, fake_slack, partner, "Hate symbols in a group banner")
    owner_id = row(escbot, ticket).assignee_id
    owner = user_factory(owner_id)
    mark = fake_slack.mark()
    assert owner.app_home_opened().status_code == 200
    fake_slack.wait_for(
        lambda c: c.method == "views.publish" and c.args.get("user_id") == owner_id, since=mark
    )
    view = fake_slack.home_view(owner_id)
    assert ticket.key in json.dumps(view["blocks"]) and "Your queue" in json.dumps(view["blocks"])
    # the reporter's home was published when the ticket changed; it lists the escalation
    home = fake_slack.wait_until(lambda: fake_slack.home_view(PARTNER))
    assert "Your escalations" in json.dumps(home["blocks"]) and ticket.key in json.dumps(
        home["blocks"]
    )
    # Resolve from App Home opens the resolve modal
    owner.click(view, "Resolve")
    fake_slack.wait_until(lambda: fake_slack.last_view(owner_id))
    assert fake_slack.last_view(owner_id)["callback_id"] == "resolve_modal"
