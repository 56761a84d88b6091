"""Duplicate content over HTTP: a second report of content in an open ticket is offered as
"add to ESC-n" to someone who may see that ticket, as "already being handled by the desk
(ESC-n) — ask to follow it" to anyone else, and every choice does what it says — once,
however often it is clicked."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from bot.intake.service import REPORTED_AGAIN
from storage.models import ContentItem, PendingDraft, Ticket, TicketEvent, Watcher
from tests.intake_support import (
    INTAKE,
    OTHER_PARTNER,
    PARTNER,
    PARTNERS,
    card,
    confirmation,
    escalate,
)
from tests.outbox_support import drain

#: An escbot admin: may see every ticket, and is never routed one (so becomes a watcher).
SEER = "U02A7KQ3ZPM"
FIRST = "https://www.example.com/p/1?utm_source=share\npost:42"
SAME_AND_MORE = "HTTPS://example.com/p/1/#comments\nhttps://example.com/p/2"


def first_ticket(escbot, fake_slack, user_factory) -> None:  # type: ignore[no-untyped-def]
    resp = escalate(user_factory(PARTNER), fake_slack, {"Content links or ids": FIRST})
    assert resp.status_code == 200 and resp.content == b""
    assert drain(escbot.services.outbox)


def offered(
    escbot, fake_slack, user_factory, content: str = SAME_AND_MORE, who: str = SEER, **values: Any
):  # type: ignore[no-untyped-def]
    other = user_factory(who)
    resp = escalate(
        other,
        fake_slack,
        {"Content links or ids": content, **values},
        text="Same post, seen by comms",
    )
    assert resp.status_code == 200
    answer = resp.json()
    assert answer["response_action"] == "update"
    view = fake_slack.last_view(who)
    assert view is not None and view["callback_id"] == "escalate_duplicate"
    return other, view


def keys(escbot) -> list[str]:  # type: ignore[no-untyped-def]
    with escbot.services.sessions() as s:
        return list(s.scalars(select(Ticket.key).order_by(Ticket.number)))


def test_same_content_is_offered_as_add_to_the_open_ticket(
    escbot, fake_slack, user_factory
) -> None:
    first_ticket(escbot, fake_slack, user_factory)
    _, view = offered(escbot, fake_slack, user_factory)
    text = json.dumps(view["blocks"], ensure_ascii=False)
    assert "*ESC-1* already covers" in text
    assert "|example.com — HTTPS://example.com/p/1/#comments>" in text  # as typed, host first
    buttons = [
        e["text"]["text"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == ["Add to ESC-1", "Open a new ticket anyway"]
    assert keys(escbot) == ["ESC-1"]  # nothing written yet


def test_add_to_the_ticket_links_the_reporter_adds_content_and_tells_everyone(
    escbot, fake_slack, user_factory
) -> None:
    first_ticket(escbot, fake_slack, user_factory)
    other, view = offered(escbot, fake_slack, user_factory)
    mark = fake_slack.mark()
    assert other.click(view, "Add to ESC-1").status_code == 200
    fake_slack.wait_for("views.update", since=mark)
    done = fake_slack.last_view(SEER)
    assert done is not None
    assert "Added to *ESC-1*" in json.dumps(done["blocks"]) and "1 new item" in json.dumps(done)
    assert drain(escbot.services.outbox)

    assert keys(escbot) == ["ESC-1"]
    with escbot.services.sessions() as s:
        items = s.scalars(select(ContentItem.normalized).order_by(ContentItem.id)).all()
        watchers = s.scalars(select(Watcher.user_id)).all()
        [event] = s.scalars(select(TicketEvent).where(TicketEvent.action == REPORTED_AGAIN)).all()
    assert items == ["https://example.com/p/1", "post:42", "https://example.com/p/2"]
    assert watchers == [SEER]
    assert (event.actor_id, event.payload) == (
        SEER,
        {"added": ["https://example.com/p/2"], "watching": True},
    )

    posted = card(fake_slack, "ESC-1")
    assert "3 items" in json.dumps(posted.blocks)  # the card's count, updated in place
    assert posted.edited_ts is not None and len(fake_slack.messages(INTAKE)) == 1
    line = fake_slack.thread(INTAKE, posted.ts)[-1]
    assert f"<@{SEER}> reported this too and now follows the ticket" in json.dumps(line.blocks)
    assert "Same post, seen by comms" in json.dumps(line.blocks)
    [dm] = fake_slack.dms(SEER)
    assert "ESC-1" in dm.text and f"p{posted.ts.replace('.', '')}" in json.dumps(dm.blocks)

    mark = fake_slack.mark()
    other.command("/escalate", text="status ESC-1")  # a watcher may follow it now
    assert "reported again by" in json.dumps(fake_slack.wait_for("response_url", since=mark).args)


def test_open_a_new_ticket_anyway_opens_one(escbot, fake_slack, user_factory) -> None:
    first_ticket(escbot, fake_slack, user_factory)
    other, view = offered(escbot, fake_slack, user_factory)
    mark = fake_slack.mark()
    assert other.click(view, "Open a new ticket anyway").status_code == 200
    fake_slack.wait_for("views.update", since=mark)
    done = fake_slack.last_view(SEER)
    assert done is not None and "*ESC-2* opened" in json.dumps(done["blocks"])
    assert confirmation(fake_slack, SEER, since=mark).channel == PARTNERS
    assert drain(escbot.services.outbox)
    assert keys(escbot) == ["ESC-1", "ESC-2"]
    posted = card(fake_slack, "ESC-2")
    details = fake_slack.thread(INTAKE, posted.ts)[0]
    assert "https://example.com/p/2" in json.dumps(details.blocks)
    with escbot.services.sessions() as s:
        assert s.scalars(select(Watcher)).all() == []


def test_double_clicks_and_both_buttons_have_one_outcome(escbot, fake_slack, user_factory) -> None:
    first_ticket(escbot, fake_slack, user_factory)
    other, view = offered(escbot, fake_slack, user_factory)
    for _ in range(3):
        assert other.click(view, "Add to ESC-1").status_code == 200
    assert other.click(view, "Open a new ticket anyway").status_code == 200
    fake_slack.wait_for("views.update", count=4)
    assert drain(escbot.services.outbox)
    assert keys(escbot) == ["ESC-1"]
    with escbot.services.sessions() as s:
        events = s.scalars(select(TicketEvent).where(TicketEvent.action == REPORTED_AGAIN)).all()
    assert len(events) == 1
    last = fake_slack.last_view(SEER)
    assert last is not None and "done already: *ESC-1*" in json.dumps(last["blocks"])
    assert len(fake_slack.dms(SEER)) == 1


def test_the_submission_waits_in_the_database_and_still_works(
    escbot, fake_slack, user_factory
) -> None:
    first_ticket(escbot, fake_slack, user_factory)
    links = "\n".join(
        ["https://example.com/p/1"] + [f"https://v.example.com/{n}" for n in range(19)]
    )
    other, view = offered(escbot, fake_slack, user_factory, links, Details="d" * 3000)
    assert view["private_metadata"] == ""  # nothing comes back with a click to be trusted
    with escbot.services.sessions() as s:
        assert s.scalars(select(PendingDraft.view_id)).all() == [view["id"]]
    assert other.click(view, "Add to ESC-1").status_code == 200
    fake_slack.wait_for("views.update")
    assert drain(escbot.services.outbox)
    with escbot.services.sessions() as s:
        assert s.scalars(select(PendingDraft)).all() == []
        assert len(s.scalars(select(ContentItem)).all()) == 2 + 19


def test_the_same_reporter_again_adds_content_without_following_twice(
    escbot, fake_slack, user_factory
) -> None:
    first_ticket(escbot, fake_slack, user_factory)
    partner = user_factory(PARTNER)
    resp = escalate(partner, fake_slack, {"Content links or ids": "post:42\npost:43"})
    assert resp.json()["response_action"] == "update"
    view = fake_slack.last_view(PARTNER)
    assert partner.click(view, "Add to ESC-1").status_code == 200
    fake_slack.wait_for("views.update")
    assert drain(escbot.services.outbox)
    with escbot.services.sessions() as s:
        assert s.scalars(select(Watcher)).all() == []
        [event] = s.scalars(select(TicketEvent).where(TicketEvent.action == REPORTED_AGAIN)).all()
    assert event.payload == {"added": ["post:43"], "watching": False}
    line = fake_slack.thread(INTAKE, card(fake_slack, "ESC-1").ts)[-1]
    assert "reported this too." in json.dumps(line.blocks)


def test_a_ticket_resolved_meanwhile_is_explained_and_the_new_ticket_still_possible(
    escbot, fake_slack, user_factory
) -> None:
    first_ticket(escbot, fake_slack, user_factory)
    other, view = offered(escbot, fake_slack, user_factory)
    with escbot.services.sessions() as s, s.begin():
        s.scalars(select(Ticket)).one().status = "resolved"
    mark = fake_slack.mark()
    assert other.click(view, "Add to ESC-1").status_code == 200
    told = fake_slack.wait_for("chat.postMessage", since=mark)
    assert "ESC-1 was resolved meanwhile" in json.dumps(told.args)
    assert other.click(view, "Open a new ticket anyway").status_code == 200
    fake_slack.wait_for("views.update", since=mark)
    assert keys(escbot) == ["ESC-1", "ESC-2"]
    with escbot.services.sessions() as s:
        assert s.scalars(select(Watcher)).all() == []


# -- someone who may not see the ticket ---------------------------------------------------


def test_a_stranger_learns_only_the_key_and_may_ask_to_follow(
    escbot, fake_slack, user_factory
) -> None:
    first_ticket(escbot, fake_slack, user_factory)
    other, view = offered(escbot, fake_slack, user_factory, who=OTHER_PARTNER)
    text = json.dumps(view, ensure_ascii=False)
    assert "already being handled by the desk (*ESC-1*)" in text
    for secret in ("A coordinated hate campaign", "owner:", "example.com/p/1", "<@U05"):
        assert secret not in text, secret
    buttons = [
        e["text"]["text"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert buttons == ["Ask to follow ESC-1", "Open a new ticket anyway"]
    mark = fake_slack.mark()
    assert other.click(view, "Ask to follow ESC-1").status_code == 200
    fake_slack.wait_for("views.update", since=mark)
    done = json.dumps(fake_slack.last_view(OTHER_PARTNER), ensure_ascii=False)
    assert "Asked the desk to let you follow *ESC-1*" in done
    assert "A coordinated hate campaign" not in done and "<@U05" not in done
    assert drain(escbot.services.outbox)
    with escbot.services.sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert s.scalars(select(Watcher)).all() == []
        assert [i.normalized for i in ticket.content_items] == [
            "https://example.com/p/1",
            "post:42",
        ]
    owner = ticket.assignee_id
    assert owner is not None
    [request] = [m for m in fake_slack.dms(owner) if "asks to follow" in m.text]
    # someone else clicking the owner's buttons is refused; the requester too
    for intruder in (OTHER_PARTNER, PARTNER):
        mark = fake_slack.mark()
        assert user_factory(intruder).click(request, "Approve").status_code == 200
        told = fake_slack.wait_for("response_url", since=mark)
        assert "Only the owner of ESC-1" in json.dumps(told.args)
    mark = fake_slack.mark()
    assert user_factory(owner).click(request, "Approve").status_code == 200
    replaced = fake_slack.wait_for("response_url", since=mark)
    assert "now follows *ESC-1*" in json.dumps(replaced.args)
    assert drain(escbot.services.outbox)
    with escbot.services.sessions() as s:
        assert s.scalars(select(Watcher.user_id)).all() == [OTHER_PARTNER]
    [answer] = [m for m in fake_slack.dms(OTHER_PARTNER) if "follow" in m.text]
    assert "You now follow ESC-1" in answer.text
    mark = fake_slack.mark()
    other.command("/escalate", text="status ESC-1")  # a watcher now
    assert "follower added" in json.dumps(fake_slack.wait_for("response_url", since=mark).args)


def test_a_declined_request_adds_nobody(escbot, fake_slack, user_factory) -> None:
    first_ticket(escbot, fake_slack, user_factory)
    other, view = offered(escbot, fake_slack, user_factory, who=OTHER_PARTNER)
    assert other.click(view, "Ask to follow ESC-1").status_code == 200
    fake_slack.wait_for("views.update")
    assert drain(escbot.services.outbox)
    with escbot.services.sessions() as s:
        owner = s.scalars(select(Ticket.assignee_id)).one()
    [request] = [m for m in fake_slack.dms(owner) if "asks to follow" in m.text]
    mark = fake_slack.mark()
    assert user_factory(owner).click(request, "Decline").status_code == 200
    fake_slack.wait_for("response_url", since=mark)
    assert drain(escbot.services.outbox)
    with escbot.services.sessions() as s:
        assert s.scalars(select(Watcher)).all() == []
    [answer] = [m for m in fake_slack.dms(OTHER_PARTNER) if "follow" in m.text]
    assert "declined" in answer.text
    mark = fake_slack.mark()
    other.command("/escalate", text="status ESC-1")
    assert "Only the reporter" in json.dumps(fake_slack.wait_for("response_url", since=mark).args)


def test_a_stale_click_does_not_overwrite_the_newer_view(escbot, fake_slack, user_factory) -> None:  # type: ignore[no-untyped-def]
    """views.update carries the hash the click saw; on hash_conflict (the modal changed
    since: another click) escbot shows what is true now instead of what it saw."""
    first_ticket(escbot, fake_slack, user_factory)
    other, view = offered(escbot, fake_slack, user_factory)
    mark = fake_slack.mark()
    assert other.click(view, "Open a new ticket anyway").status_code == 200
    fake_slack.wait_for("views.update", since=mark)
    assert other.click(view, "Add to ESC-1").status_code == 200  # the stale modal's button
    fake_slack.wait_for("views.update", since=mark, count=2)
    updates = [c for c in fake_slack.calls[mark:] if c.method == "views.update"]
    assert [c.response.get("error") for c in updates] == [None, "hash_conflict", None]
    assert updates[0].args["hash"] == updates[1].args["hash"] == view["hash"]
    done = fake_slack.last_view(SEER)  # the truth: ESC-2 was opened by the first click
    assert done is not None and "already: *ESC-2*" in json.dumps(done["blocks"])
    assert keys(escbot) == ["ESC-1", "ESC-2"]
