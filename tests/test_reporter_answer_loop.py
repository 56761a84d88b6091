"""The reporter's answer loop over signed HTTP with a moving clock: the ask DM's Answer
form, a DM, a thread reply, the owner's Resume, a reassign while waiting, and what each
person (reporter, owner, the channel) sees; repeats and retries change nothing twice."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from bot.sandbox.emulator.fake_slack import Message
from storage.models import Ticket, TicketEvent
from tests.desk import INTAKE, LEAD, PARTNER
from tests.test_reporter_answers import ask as ask_on_card
from tests.test_reporter_answers import quick_delivery  # noqa: F401 (autouse: fast pacing)
from tests.test_resolution_http import card, modal, row, settle, thread, told

OUTSIDER = "U09NOBODY1"  # not in any pod, not the reporter


def ask(escbot, fake_slack, user_factory, clock, summary: str) -> tuple[Ticket, str]:  # type: ignore[no-untyped-def]
    """The partner escalates; ten minutes later its owner asks them; returns (ticket, owner)."""
    ticket, _ = ask_on_card(escbot, fake_slack, user_factory, clock, summary)
    return ticket, str(row(escbot, ticket).assignee_id)


def ask_dm(fake_slack, ticket: Ticket) -> Message:  # type: ignore[no-untyped-def]
    return next(
        m
        for m in fake_slack.dms(PARTNER)
        if "has a question" in json.dumps(m.blocks) and ticket.key in json.dumps(m.blocks)
    )


def dm_text(fake_slack, user: str) -> str:  # type: ignore[no-untyped-def]
    return json.dumps([m.blocks for m in fake_slack.dms(user)], ensure_ascii=False)


def resumes(escbot, ticket: Ticket) -> int:  # type: ignore[no-untyped-def]
    with escbot.services.sessions() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == "resume")
            )
            or 0
        )


def test_answer_button_opens_a_form_that_reaches_the_desk_once(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory, clock
) -> None:
    ticket, owner = ask(escbot, fake_slack, user_factory, clock, "Slur wave under a stream")
    partner = user_factory(PARTNER)
    dm = ask_dm(fake_slack, ticket)
    assert "Press *Answer*" in json.dumps(dm.blocks)

    clock.advance(timedelta(minutes=45))
    form = modal(fake_slack, partner, dm, "Answer")
    assert "Which account posted first?" in json.dumps(form["blocks"])  # the question shown
    stale_form = modal(fake_slack, partner, dm, "Answer")  # a second click: a second form
    assert partner.submit_view(form, {"Your answer": "The red avatar, at 09:14"}).ok
    assert partner.replay().ok  # a double submit of the same form
    settle(escbot)

    t = row(escbot, ticket)
    assert (t.status, t.paused_seconds, t.waiting_since) == ("acknowledged", 45 * 60, None)
    assert resumes(escbot, ticket) == 1
    msg = card(fake_slack, ticket)
    said = thread(fake_slack, msg)
    assert f"<@{PARTNER}> answered on *{ticket.key}*" in said  # the channel sees the answer
    assert "The red avatar, at 09:14" in said and "answered with the form" in said
    assert "paused 45m" in said
    assert "The red avatar, at 09:14" in dm_text(fake_slack, owner)  # the owner is told
    confirmations = [m for m in fake_slack.dms(PARTNER) if "reached the desk" in m.text]
    assert len(confirmations) == 1 and ticket.key in confirmations[0].text
    assert f"<@{owner}>" in confirmations[0].text

    # the other form, submitted after the answer, says so where the reporter is looking
    resp = partner.submit_view(stale_form, {"Your answer": "And another thing"})
    assert resp.json()["response_action"] == "errors"
    assert "no longer waiting on your answer" in resp.json()["errors"]["answer"]
    assert resumes(escbot, ticket) == 1

    # the Answer button of an answered question explains instead of opening a form
    assert "no longer waiting" in told(fake_slack, partner, lambda: partner.click(dm, "Answer"))


def test_only_the_reporter_can_answer(escbot, fake_slack, user_factory, clock) -> None:  # type: ignore[no-untyped-def]
    ticket, _ = ask(escbot, fake_slack, user_factory, clock, "Hate symbols in usernames")
    dm = ask_dm(fake_slack, ticket)
    outsider = user_factory(OUTSIDER)
    said = told(fake_slack, outsider, lambda: outsider.click(dm, "Answer", channel_id="D9NOBODY1"))
    assert "Only the person who raised" in said
    assert row(escbot, ticket).status == "waiting_on_reporter"


def test_dm_answer_retried_by_slack_resumes_once(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory, clock
) -> None:
    ticket, owner = ask(escbot, fake_slack, user_factory, clock, "Dehumanising memes")
    partner = user_factory(PARTNER)
    clock.advance(timedelta(hours=2))
    assert partner.dm("The second account, from the screenshot").status_code == 200
    assert partner.replay(retry_num=1, retry_reason="http_timeout").status_code == 200
    fake_slack.wait_until(lambda: row(escbot, ticket).status == "acknowledged")
    settle(escbot)
    assert resumes(escbot, ticket) == 1
    said = thread(fake_slack, card(fake_slack, ticket))
    assert "The second account, from the screenshot" in said and "answered by DM" in said
    assert said.count("answered on") == 1
    assert "The second account" in dm_text(fake_slack, owner)
    assert len([m for m in fake_slack.dms(PARTNER) if "reached the desk" in m.text]) == 1


def test_thread_answer_is_confirmed_and_not_repeated_in_the_thread(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory, clock
) -> None:
    ticket, owner = ask(escbot, fake_slack, user_factory, clock, "Coordinated slurs")
    msg = card(fake_slack, ticket)
    user_factory(PARTNER).message_in_thread(INTAKE, msg.ts, "Posted by @redavatar")
    fake_slack.wait_until(lambda: row(escbot, ticket).status == "acknowledged")
    settle(escbot)
    said = thread(fake_slack, msg)  # escbot's lines (blocks): no copy of the reply itself
    assert "Posted by @redavatar" not in said and "answered above on" in said
    texts = [m.text for m in fake_slack.thread(INTAKE, msg.ts)]
    assert "Posted by @redavatar" in texts
    assert "Posted by @redavatar" in dm_text(fake_slack, owner)
    assert "reached the desk" in dm_text(fake_slack, PARTNER)


def test_reassign_while_waiting_keeps_the_wait_and_the_answer_goes_to_the_new_owner(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory, clock
) -> None:
    ticket, first_owner = ask(escbot, fake_slack, user_factory, clock, "Slurs in live chat")
    lead = user_factory(LEAD)
    clock.advance(timedelta(hours=1))
    view = modal(fake_slack, lead, card(fake_slack, ticket), "Reassign")
    assert lead.submit_view(view, {"New owner": "The pod lead", "Reason": "Covering"}).ok
    settle(escbot)
    t = row(escbot, ticket)
    assert (t.status, t.assignee_id) == ("waiting_on_reporter", LEAD)
    assert t.waiting_since is not None and t.acked_at is not None  # still paused, still acked
    assert "paused while waiting on the reporter" in json.dumps(card(fake_slack, ticket).blocks)

    clock.advance(timedelta(hours=1))
    user_factory(PARTNER).dm("It was posted at 09:14")
    fake_slack.wait_until(lambda: row(escbot, ticket).status == "acknowledged")
    settle(escbot)
    assert row(escbot, ticket).paused_seconds == 2 * 3600  # the whole wait, across owners
    assert "It was posted at 09:14" in dm_text(fake_slack, LEAD)  # the owner now
    assert "It was posted at 09:14" not in dm_text(fake_slack, first_owner)


def test_owner_resumes_without_the_answer(escbot, fake_slack, user_factory, clock) -> None:  # type: ignore[no-untyped-def]
    ticket, owner_id = ask(escbot, fake_slack, user_factory, clock, "Violent threats in DMs")
    msg = card(fake_slack, ticket)
    owner, partner = user_factory(owner_id), user_factory(PARTNER)
    assert "Resume" in json.dumps(msg.blocks)

    # the reporter and outsiders can't resume from the card
    for who in (partner, user_factory(OUTSIDER)):
        said = told(fake_slack, who, lambda w=who: w.click(msg, "Resume"))
        assert "can resume" in said
    assert row(escbot, ticket).status == "waiting_on_reporter"

    clock.advance(timedelta(minutes=30))
    owner.click(msg, "Resume")
    fake_slack.wait_until(lambda: row(escbot, ticket).status == "acknowledged")
    settle(escbot)
    assert row(escbot, ticket).paused_seconds == 30 * 60
    said = thread(fake_slack, msg)
    assert f"<@{owner_id}> resumed *{ticket.key}* without the reporter's answer" in said
    assert "no need to reply" in dm_text(fake_slack, PARTNER)
    assert "Resume" not in json.dumps(card(fake_slack, ticket).blocks)

    assert "already acknowledged" in told(fake_slack, owner, lambda: owner.click(msg, "Resume"))
    assert resumes(escbot, ticket) == 1
    # a late DM from the reporter is not lost in silence: they are told nothing waits
    partner.dm("Sorry, late: the red one")
    fake_slack.wait_until(lambda: "Nothing is waiting" in dm_text(fake_slack, PARTNER))
