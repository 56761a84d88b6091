"""Routing and ownership over real HTTP against the fake Slack: the card, its buttons,
the reassign modal, /escalate ooo and the escalation chain.

Tickets are opened with ``bot.intake.service.open_ticket`` (both steps of what the
intake modal does), then people click the buttons of the card as it was posted.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.sandbox.emulator.fake_slack import Message
from storage.db import transaction
from storage.models import Ticket, TicketEvent
from tests.desk import (
    AFTERNOON,
    BEATRIZ,
    INTAKE,
    LEAD,
    LUCIA,
    PARTNER,
    WANJIRU,
    new_ticket,
    seed,
)
from tests.outbox_support import drain


def open_and_post(escbot, fake_slack, config, **kw: Any) -> tuple[Ticket, Message]:  # type: ignore[no-untyped-def]
    services = escbot.services
    ticket = new_ticket(services.sessions, config, services.renderer, services.clock.now(), **kw)
    assert drain(services.outbox)
    return ticket, card_of(fake_slack, ticket)


def card_of(fake_slack, ticket: Ticket) -> Message:  # type: ignore[no-untyped-def]
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


def ticket_row(escbot, ticket: Ticket) -> Ticket:  # type: ignore[no-untyped-def]
    with escbot.services.sessions() as s:
        return s.get_one(Ticket, ticket.id)


def actions(escbot, ticket: Ticket, action: str) -> list[TicketEvent]:  # type: ignore[no-untyped-def]
    with escbot.services.sessions() as s:
        return list(
            s.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == action)
                .order_by(TicketEvent.id)
            )
        )


def settle(escbot) -> None:  # type: ignore[no-untyped-def]
    assert drain(escbot.services.outbox)


def test_spanish_graphic_violence_goes_to_the_speaker_on_shift_with_fewest_open(
    escbot, fake_slack, config, clock
) -> None:
    clock.set(AFTERNOON)
    with transaction(escbot.services.sessions) as s:
        seed(s, LUCIA, now=AFTERNOON)
        seed(s, LUCIA, now=AFTERNOON)
        seed(s, BEATRIZ, now=AFTERNOON)
    ticket, card = open_and_post(escbot, fake_slack, config)
    assert (
        ":compass: Least busy (1 open), speaks Spanish, on shift (11:00 in Sao Paulo), "
        "1 of 5 sensitive today. 3 others passed over: 2 without Spanish, 1 busier"
    ) in shown(card)
    assert "Passed over:" not in shown(card)  # the full list is the owner's, in the DM
    assert f"Owner <@{BEATRIZ}>" in shown(card)
    assert {"Ack", "Take", "Reassign"} <= set(buttons(card))
    [dm] = fake_slack.dms(BEATRIZ)
    permalink = f"https://fake.slack.com/archives/{INTAKE}/p{card.ts.replace('.', '')}"
    assert f"<{permalink}|Open {ticket.key}>" in json.dumps(dm.blocks)
    assert "Content warning" in json.dumps(dm.blocks)
    why = json.dumps(dm.blocks, ensure_ascii=False)
    assert "Passed over: Lucía Fernández, busier (2 open against 1)" in why


def test_member_at_sensitive_cap_is_skipped_and_the_audit_says_why(
    escbot, fake_slack, config, clock
) -> None:
    clock.set(AFTERNOON)
    with transaction(escbot.services.sessions) as s:
        for hour in range(5):  # five graphic tickets since her midnight, all resolved since
            seed(
                s,
                BEATRIZ,
                now=AFTERNOON,
                area="graphic_violence",
                sensitive=True,
                status="resolved",
                assigned_at=AFTERNOON - timedelta(hours=hour + 1),
            )
    ticket, card = open_and_post(escbot, fake_slack, config)
    assert ticket.assignee_id == LUCIA
    assert "Least busy (0 open), speaks Spanish, on shift (15:00 in Madrid)" in shown(card)
    [assign] = actions(escbot, ticket, "assign")
    table = {c["id"]: c for c in assign.payload["routing"]["candidates"]}
    assert table[BEATRIZ]["excluded"] == "at their sensitive cap (5 of 5 today)"
    assert not table[BEATRIZ]["chosen"] and table[LUCIA]["chosen"]


def test_non_member_take_is_explained_and_changes_nothing(
    escbot, fake_slack, config, user_factory
) -> None:
    ticket, card = open_and_post(escbot, fake_slack, config)
    before = ticket_row(escbot, ticket)
    assert user_factory(PARTNER).click(card, "Take").status_code == 200
    [note] = fake_slack.wait_until(lambda: fake_slack.ephemerals(PARTNER))
    assert "Only members of the Critical Harms pod" in note.text
    assert "nothing was changed" in note.text
    after = ticket_row(escbot, ticket)
    assert (after.assignee_id, after.status, after.version) == (
        before.assignee_id,
        before.status,
        before.version,
    )
    [refused] = actions(escbot, ticket, "refused")
    assert (refused.actor_id, refused.payload["doing"]) == (PARTNER, "take")
    settle(escbot)
    assert not any("took" in json.dumps(m.blocks) for m in fake_slack.thread(INTAKE, card.ts))


def test_ack_by_the_owner_updates_card_and_thread(escbot, fake_slack, config, user_factory) -> None:
    ticket, card = open_and_post(escbot, fake_slack, config)  # 10:00: Lucía
    assert ticket.assignee_id == LUCIA
    user_factory(WANJIRU).click(card, "Ack")
    [note] = fake_slack.wait_until(lambda: fake_slack.ephemerals(WANJIRU))
    assert "use *Take*" in note.text
    user_factory(LUCIA).click(card, "Ack")
    fake_slack.wait_until(lambda: actions(escbot, ticket, "acknowledge"))
    settle(escbot)
    card = card_of(fake_slack, ticket)
    assert "· In progress" in shown(card)
    assert "Ack" not in buttons(card) and {"Take", "Reassign"} <= set(buttons(card))
    lines = [m.text for m in fake_slack.thread(INTAKE, card.ts)]
    assert any("acknowledged" in line for line in lines)
    assert any(
        f"<@{LUCIA}> acknowledged *{ticket.key}*" in json.dumps(m.blocks)
        for m in fake_slack.thread(INTAKE, card.ts)
    )


def test_double_clicked_take_makes_one_transition(escbot, fake_slack, config, user_factory) -> None:
    ticket, card = open_and_post(escbot, fake_slack, config)
    wanjiru = user_factory(WANJIRU)
    barrier = threading.Barrier(2)

    def click() -> None:
        barrier.wait()
        wanjiru.click(card, "Take")

    threads = [threading.Thread(target=click) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    fake_slack.wait_until(lambda: fake_slack.ephemerals(WANJIRU))
    assert "You already own" in fake_slack.ephemerals(WANJIRU)[0].text
    assert [e.actor_id for e in actions(escbot, ticket, "take")] == [WANJIRU]
    settle(escbot)
    card = card_of(fake_slack, ticket)
    assert f"Owner <@{WANJIRU}>" in shown(card) and "Taken by Wanjiru Kamau" in shown(card)


def test_reassign_through_the_modal(escbot, fake_slack, config, user_factory) -> None:
    ticket, card = open_and_post(escbot, fake_slack, config)
    lucia = user_factory(LUCIA)
    user_factory(PARTNER).click(card, "Reassign")
    fake_slack.wait_until(lambda: fake_slack.ephemerals(PARTNER))
    assert fake_slack.last_view(PARTNER) is None
    lucia.click(card, "Reassign")
    view = fake_slack.wait_until(lambda: fake_slack.last_view(LUCIA))
    resp = lucia.submit_view(view, {"New owner": WANJIRU, "Reason": "   "})
    assert resp.json()["response_action"] == "errors"
    assert "reassign_reason" in resp.json()["errors"]
    resp = lucia.submit_view(view, {"New owner": WANJIRU, "Reason": "Swahili voice-over"})
    assert resp.status_code == 200 and not resp.content.strip(b"{} ")
    settle(escbot)
    card = card_of(fake_slack, ticket)
    assert f"Owner <@{WANJIRU}>" in shown(card)
    assert "Reassigned to Wanjiru Kamau by Lucía Fernández: Swahili voice-over" in shown(card)
    thread = json.dumps([m.blocks for m in fake_slack.thread(INTAKE, card.ts)])
    assert f"<@{LUCIA}> reassigned *{ticket.key}* to <@{WANJIRU}> from <@{LUCIA}>" in thread
    dm = json.dumps([m.blocks for m in fake_slack.dms(WANJIRU)])
    assert f"<@{LUCIA}> gave you *{ticket.key}*" in dm and "Swahili voice-over" in dm


def test_out_of_office_is_set_listed_honoured_and_cleared(
    escbot, fake_slack, config, user_factory, clock
) -> None:
    clock.set(AFTERNOON)
    beatriz = user_factory(BEATRIZ)

    def answer(user: str) -> str:
        reply = fake_slack.wait_for("response_url", since=mark)
        assert reply.args.get("response_type") == "ephemeral"
        return json.dumps(reply.args, ensure_ascii=False)

    mark = fake_slack.mark()
    beatriz.command("/escalate", "ooo 2026-11-30 2026-11-27")
    assert "The last day (2026-11-27) is before the first (2026-11-30)" in answer(BEATRIZ)
    mark = fake_slack.mark()
    beatriz.command("/escalate", "ooo 2026-11-26 2026-11-27 Conference in Lisbon")
    text = answer(BEATRIZ)
    assert "2026-11-26 → 2026-11-27 (now) — Conference in Lisbon" in text
    ticket, _ = open_and_post(escbot, fake_slack, config)
    assert ticket.assignee_id == LUCIA
    [assign] = actions(escbot, ticket, "assign")
    table = {c["id"]: c for c in assign.payload["routing"]["candidates"]}
    assert table[BEATRIZ]["excluded"] == "out of office until Sat 28 Nov 00:00 in Sao Paulo"
    mark = fake_slack.mark()
    beatriz.command("/escalate", "ooo clear")
    assert "Cleared 1 absence" in answer(BEATRIZ)
    mark = fake_slack.mark()
    user_factory(PARTNER).command("/escalate", "ooo")
    assert "Out of office is for members, leads and admins" in answer(PARTNER)


def test_the_chain_reaches_the_thread_and_the_lead(escbot, fake_slack, config, clock) -> None:
    ticket, card = open_and_post(escbot, fake_slack, config, severity="sev1")
    assert ticket.assignee_id == LUCIA  # the first rotation member on shift
    clock.advance(timedelta(minutes=30))
    escbot.services.timers.run_due()
    clock.advance(timedelta(minutes=30))
    escbot.services.timers.run_due()
    settle(escbot)
    thread = json.dumps([m.blocks for m in fake_slack.thread(INTAKE, card.ts)])
    assert f"moves to <@{WANJIRU}> (next on call)" in thread
    assert f"moves to <@{LEAD}> (pod lead)" in thread
    assert any("not acknowledged in time" in json.dumps(m.blocks) for m in fake_slack.dms(LEAD))
    assert f"Owner <@{LEAD}>" in shown(card_of(fake_slack, ticket))


def test_a_double_submitted_route_again_moves_the_ticket_once(
    escbot, fake_slack, config, user_factory
) -> None:
    ticket, card = open_and_post(escbot, fake_slack, config, language=None)
    owner = user_factory(ticket.assignee_id)
    owner.click(card, "Reassign")
    view = fake_slack.wait_until(lambda: fake_slack.last_view(ticket.assignee_id))
    assert owner.submit_view(view, {"New owner": "Route again", "Reason": "at capacity"}).ok
    assert owner.replay().ok
    assigns = actions(escbot, ticket, "assign")
    assert len(assigns) == 2  # routed at intake, then routed again once
    assert assigns[1].payload["routing"]["via"] == "least_loaded"
    assert ticket_row(escbot, ticket).assignee_id not in (ticket.assignee_id, LEAD)


def test_through_the_intake_modal_the_card_says_who_and_why(
    escbot, fake_slack, user_factory, clock
) -> None:
    """The done-when scenario end to end: /escalate, the modal, the routed card, a click."""
    from tests.intake_support import escalate

    clock.set(AFTERNOON)
    with transaction(escbot.services.sessions) as s:
        seed(s, LUCIA, now=AFTERNOON)
        seed(s, LUCIA, now=AFTERNOON)
    partner = user_factory(PARTNER)
    values = {
        "Summary": "Execution video with Spanish captions going viral",
        "Policy area": "graphic_violence",
        "Severity": "sev2",
        "Language": "es",
    }
    assert escalate(partner, fake_slack, values).ok
    settle(escbot)
    [card] = [m for m in fake_slack.messages(INTAKE) if "Execution video" in m.text]
    assert "Least busy (0 open), speaks Spanish, on shift (11:00 in Sao Paulo)" in shown(card)
    assert "1 of 5 sensitive today" in shown(card)
    user_factory(BEATRIZ).click(card, "Ack")
    fake_slack.wait_until(
        lambda: "acknowledged" in shown(fake_slack.message(INTAKE, card.ts)), timeout=10
    )
