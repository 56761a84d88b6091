"""Content of a resolved ticket, reported again over signed HTTP with a moving clock: the
reporter is told "reported before in ESC-n (decision, date)" — the decision only if they
may see that ticket — and may reopen it or open a new ticket that links to it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.delivery.worker import Pacer
from storage.models import ContentItem, Ticket, TicketEvent, Watcher
from tests.intake_support import INTAKE, OTHER_PARTNER, PARTNER, card, escalate
from tests.outbox_support import drain

POSTED = "https://twitter.com/SomeOne/status/1790000000000000001?s=20&t=AbCdEf"
SHARED = "https://x.com/someone/status/1790000000000000001\nhttps://youtu.be/dQw4w9WgXcQ?t=42"


@pytest.fixture(autouse=True)
def quick_delivery(escbot) -> None:  # type: ignore[no-untyped-def]
    escbot.services.outbox.pacer = Pacer(rate=1000, burst=1000)


def ticket(escbot, key: str) -> Ticket:  # type: ignore[no-untyped-def]
    with escbot.services.sessions() as s:
        found = s.scalars(select(Ticket).where(Ticket.key == key)).one()
        return found


def resolved_first(escbot, fake_slack, user_factory, clock) -> Ticket:  # type: ignore[no-untyped-def]
    """PARTNER escalates the post; its owner removes it an hour later."""
    assert escalate(user_factory(PARTNER), fake_slack, {"Content links or ids": POSTED}).ok
    assert drain(escbot.services.outbox)
    first = ticket(escbot, "ESC-1")
    owner = user_factory(first.assignee_id)
    clock.advance(timedelta(hours=1))
    mark = fake_slack.mark()
    assert owner.click(card(fake_slack, "ESC-1"), "Resolve").ok
    fake_slack.wait_for("views.open", since=mark)
    fields = {"Decision": "Removed", "Rationale": "Dehumanising slur at a protected group."}
    assert owner.submit_view(fake_slack.last_view(owner.user_id), fields).ok
    assert drain(escbot.services.outbox)
    assert ticket(escbot, "ESC-1").status == "resolved"
    return first


def offered(fake_slack, user, content: str = SHARED) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    resp = escalate(user, fake_slack, {"Content links or ids": content}, text="Still up today")
    assert resp.json()["response_action"] == "update"
    view = fake_slack.last_view(user.user_id)
    assert view is not None and view["callback_id"] == "escalate_duplicate"
    return view


def buttons(view: dict[str, Any]) -> list[str]:
    return [
        e["text"]["text"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]


def test_the_reporter_sees_the_decision_and_reopens_the_ticket(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory, clock
) -> None:
    resolved_first(escbot, fake_slack, user_factory, clock)
    clock.advance(timedelta(days=2))
    partner = user_factory(PARTNER)
    view = offered(fake_slack, partner)  # x.com, no tracking: the same post as twitter.com?s=20
    shown = json.dumps(view["blocks"], ensure_ascii=False)
    assert "This content was reported before" in shown
    assert "Reported before in *ESC-1* (Removed, 26 Nov 2026)" in shown
    assert buttons(view) == ["Reopen ESC-1", "Open a new ticket linked to ESC-1"]

    assert partner.click(view, "Reopen ESC-1").ok
    assert partner.click(view, "Reopen ESC-1").ok  # a double click
    fake_slack.wait_until(lambda: len(fake_slack.calls_to("views.update")) == 2)
    assert drain(escbot.services.outbox)
    updates = [json.dumps(c.args) for c in fake_slack.calls_to("views.update")]
    assert sum("*ESC-1* reopened" in u for u in updates) == 1  # the other: "done already"
    t = ticket(escbot, "ESC-1")
    assert (t.status, t.reopened_count) == ("reopened", 1)  # once, for the double click
    with escbot.services.sessions() as s:
        assert s.scalars(select(Ticket.key)).all() == ["ESC-1"]
        keys = s.scalars(select(ContentItem.normalized).order_by(ContentItem.id)).all()
    assert keys == [
        "https://x.com/i/status/1790000000000000001",
        "https://youtube.com/watch?v=dQw4w9WgXcQ",  # the new link joined it
    ]
    thread = json.dumps([m.blocks for m in fake_slack.thread(INTAKE, card(fake_slack, "ESC-1").ts)])
    assert "reopened* by" in thread and "Reported again: Still up today" in thread
    assert "Reported again" in json.dumps([m.blocks for m in fake_slack.dms(t.assignee_id)])


def test_someone_else_sees_only_the_key_and_opens_a_linked_ticket(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory, clock
) -> None:
    resolved_first(escbot, fake_slack, user_factory, clock)
    clock.advance(timedelta(days=3))
    other = user_factory(OTHER_PARTNER)  # not the reporter, not in the pod
    view = offered(fake_slack, other)
    shown = json.dumps(view["blocks"], ensure_ascii=False)
    assert "Reported before (*ESC-1*)" in shown
    assert "Removed" not in shown and "26 Nov" not in shown  # not theirs to see
    assert buttons(view) == ["Open a new ticket linked to ESC-1"]  # they may not reopen it

    mark = fake_slack.mark()
    assert other.click(view, "Open a new ticket linked to ESC-1").ok
    fake_slack.wait_for("views.update", since=mark)
    assert drain(escbot.services.outbox)
    assert ticket(escbot, "ESC-1").status == "resolved"
    second = ticket(escbot, "ESC-2")
    thread = json.dumps([m.blocks for m in fake_slack.thread(INTAKE, card(fake_slack, "ESC-2").ts)])
    assert "Reported before in *ESC-1* (Removed, 26 Nov 2026)" in thread  # for the desk
    with escbot.services.sessions() as s:
        create = s.scalars(
            select(TicketEvent).where(
                TicketEvent.ticket_id == second.id, TicketEvent.action == "create"
            )
        ).one()
        assert create.payload["reported_before"] == "ESC-1"
        assert s.scalars(select(Watcher)).all() == []


def test_a_forged_link_value_is_refused(escbot, fake_slack, user_factory, clock) -> None:  # type: ignore[no-untyped-def]
    """The linked ticket is the one escbot showed (kept server-side), never the button's value."""
    resolved_first(escbot, fake_slack, user_factory, clock)
    other = user_factory(OTHER_PARTNER)
    view = offered(fake_slack, other)
    for block in view["blocks"]:  # the client sends whatever value it likes
        for element in block.get("elements", []):
            if element.get("action_id") == "intake_new":
                element["value"] = "ESC-99"
    mark = fake_slack.mark()
    assert other.click(view, "Open a new ticket linked to ESC-1").ok
    told = fake_slack.wait_for(
        lambda c: c.method == "chat.postMessage" and c.args.get("channel") == OTHER_PARTNER,
        since=mark,
    )
    assert "not one escbot showed you" in json.dumps(told.args)
    assert drain(escbot.services.outbox)
    with escbot.services.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1  # only ESC-1


def test_unrelated_content_opens_a_ticket_at_once(escbot, fake_slack, user_factory, clock) -> None:  # type: ignore[no-untyped-def]
    resolved_first(escbot, fake_slack, user_factory, clock)
    resp = escalate(
        user_factory(OTHER_PARTNER),
        fake_slack,
        {"Content links or ids": "https://x.com/a/status/5"},
    )
    assert resp.status_code == 200 and resp.content == b""
