"""Waiting on the reporter: the owner's question, the reporter's answer, the owner's Resume.

Asking pauses the SLA clocks (``waiting_on_reporter``) and DMs the reporter the
question, linked to the card's thread. The answer lands in :func:`answer` however it
comes (the DM's Answer form, a DM to escbot, a reply in the card's thread): the clocks
run again, the thread and the owner get it, and the reporter is told it reached the
desk. The card's Resume goes on without it and tells the reporter the question is
withdrawn. Each function is one unit of work inside the caller's transaction.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import sla
from bot.config import AppConfig
from bot.core.errors import NotAllowed, TransitionError
from bot.core.render import Renderer
from bot.core.text import clean
from bot.core.timefmt import duration
from bot.delivery import outbox
from bot.resolution.updates import TEXT_MAX, announce, dm_owner, required
from bot.tickets import permissions
from bot.tickets.lifecycle import Action, Change, Status, target, transition
from bot.tickets.permissions import Verb
from storage.models import Ticket, TicketEvent

#: How a reporter's answer reached escbot (:func:`answer`).
VIA_FORM, VIA_DM, VIA_THREAD = "form", "dm", "thread"
ANSWER_BLOCK = "answer"  # the answer modal's input


def ask_form(renderer: Renderer, ticket: Ticket) -> dict[str, Any]:
    return renderer.render("ask_reporter_modal", t=ticket)


def answer_form(session: Session, renderer: Renderer, ticket: Ticket, user: str) -> dict[str, Any]:
    """The modal the ask DM's Answer button opens, with the question it answers."""
    if user != ticket.reporter_id:
        raise NotAllowed(f"Only the person who raised {ticket.key} can answer its question.")
    if ticket.status != Status.WAITING.value:
        raise TransitionError(f"{ticket.key} is no longer waiting on your answer.")
    asked = session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == Action.WAIT.value)
        .order_by(TicketEvent.id.desc())
        .limit(1)
    ).first()
    question = str((asked.payload or {}).get("question") or "") if asked else ""
    return renderer.render("answer_modal", t=ticket, question=question, block=ANSWER_BLOCK)


def ask_reporter(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    question: str | None,
    *,
    actor: str,
    now: datetime,
) -> Change:
    """Ask the reporter in the thread and pause the SLA clocks until they answer there."""
    permissions.check(cfg, ticket, actor, Verb.ASK)
    text = required(question, "question", "Write the question for the reporter.")
    change = transition(
        session, ticket, Action.WAIT, actor=actor, now=now, payload={"question": text}
    )
    # Asking is working on it: like resolving, it acknowledges a ticket not yet acked
    # (the reply resumes it as acknowledged, and no Ack button is offered then).
    ticket.acked_at = ticket.acked_at or now
    sla.sync(session, cfg, ticket, now)
    context = {"t": ticket, "kind": "asked", "actor": actor, "text": text}
    announce(session, renderer, change.event, "ticket_update", context, now)
    # Held until the card is posted, so that it can link to the card's thread.
    outbox.enqueue_dm(
        session,
        ticket.reporter_id,
        renderer.render("ticket_update", **context, audience="dm", card_link=outbox.CARD_LINK),
        f"dm:{ticket.id}:{change.event.id}:{ticket.reporter_id}",
        now,
        ticket=ticket,
        after_card=True,
    )
    return change


def answer(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    text: str | None,
    *,
    actor: str,
    via: str,
    now: datetime,
) -> Change:
    """The reporter's answer to the question ``ticket`` waits on, however it came (``via``:
    the DM's Answer form, a DM to escbot, a reply in the card's thread).

    The one place an answer lands: the clocks run again, the thread shows the answer
    (a thread reply is already there), the owner gets it by DM, and the reporter a
    confirmation that it reached the desk. Raises a DomainError fit for the reporter when
    it is not theirs to answer or the ticket no longer waits.
    """
    if actor != ticket.reporter_id:
        raise NotAllowed(f"Only the person who raised {ticket.key} can answer its question.")
    if ticket.status != Status.WAITING.value:
        raise TransitionError(
            f"{ticket.key} is no longer waiting on your answer; to add something, reply in "
            "its thread or DM its owner."
        )
    if via == VIA_FORM:
        reply = required(text, ANSWER_BLOCK, "Write your answer.")
    else:
        reply = clean(text or "").strip()[:TEXT_MAX]
    change = _resume(
        session, cfg, renderer, ticket, "answered", reply, actor=actor, now=now, via=via
    )
    others = session.scalars(
        select(Ticket.key)
        .where(Ticket.status == Status.WAITING.value, Ticket.reporter_id == actor)
        .order_by(Ticket.waiting_since.desc(), Ticket.id.desc())
    ).all()
    outbox.enqueue_dm(
        session,
        actor,
        renderer.render("dm_answer", t=ticket, others=list(others), owner=ticket.assignee_id),
        f"dm:{ticket.id}:{change.event.id}:{actor}",
        now,
        ticket=ticket,
    )
    return change


def resume_by_owner(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    *,
    actor: str,
    now: datetime,
) -> Change:
    """The card's Resume: the desk goes on without the answer; the reporter is told that
    the question is withdrawn, so they don't answer into the void."""
    permissions.check(cfg, ticket, actor, Verb.RESUME)
    target(Action.RESUME, Status(ticket.status))  # "it is already acknowledged" on a repeat
    change = _resume(session, cfg, renderer, ticket, "resumed", "", actor=actor, now=now)
    if ticket.reporter_id != actor:
        context = {"t": ticket, "kind": "resumed", "actor": actor, "text": ""}
        outbox.enqueue_dm(
            session,
            ticket.reporter_id,
            renderer.render("ticket_update", **context, audience="dm"),
            f"dm:{ticket.id}:{change.event.id}:{ticket.reporter_id}",
            now,
            ticket=ticket,
        )
    return change


def _resume(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    kind: str,
    reply: str,
    *,
    actor: str,
    now: datetime,
    via: str | None = None,
) -> Change:
    """Run the clocks again; the thread and the owner hear about it."""
    waited = sla.clock_for(cfg, ticket.severity).elapsed(ticket.waiting_since or now, now)
    change = transition(
        session,
        ticket,
        Action.RESUME,
        actor=actor,
        now=now,
        payload={"reply": reply, "via": via, "paused_seconds": waited},
    )
    sla.sync(session, cfg, ticket, now)
    context = {
        "t": ticket,
        "kind": kind,
        "actor": actor,
        "text": reply,
        "via": via,
        "paused": duration(timedelta(seconds=waited)),
    }
    announce(session, renderer, change.event, "ticket_update", context, now)
    dm_owner(session, cfg, renderer, ticket, change.event, context, now)
    return change


def on_thread_reply(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    *,
    channel: str,
    thread_ts: str,
    user: str,
    text: str,
    now: datetime,
) -> Ticket | None:
    """A message in a card's thread: the reporter's answer resumes a waiting ticket.

    Anything else (other people, other threads, tickets not waiting) is ignored.
    """
    ticket = session.scalars(
        select(Ticket)
        .where(
            Ticket.status == Status.WAITING.value,  # indexed: only waiting tickets are read
            Ticket.reporter_id == user,
            Ticket.card_channel == channel,
            Ticket.card_ts == thread_ts,
        )
        .with_for_update()
    ).one_or_none()
    if ticket is None:
        return None
    answer(session, cfg, renderer, ticket, text, actor=user, via=VIA_THREAD, now=now)
    return ticket


def on_dm_reply(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    *,
    user: str,
    text: str,
    message_ts: str,
    now: datetime,
) -> Ticket | None:
    """A person wrote to escbot in a DM: the answer to a ticket waiting on them, if any.

    With several tickets waiting on the reporter, the DM answers the one whose key it names,
    else the one asked most recently; :func:`answer` tells them which (and which still
    wait). With none waiting, they are told how to reach the desk.
    """
    waiting = list(
        session.scalars(
            select(Ticket)
            .where(Ticket.status == Status.WAITING.value, Ticket.reporter_id == user)
            .order_by(Ticket.waiting_since.desc(), Ticket.id.desc())
            .with_for_update()
        )
    )
    named = [t for t in waiting if re.search(rf"\b{re.escape(t.key)}\b", text, re.IGNORECASE)]
    candidates = named or waiting
    ticket = candidates[0] if candidates else None
    if ticket is not None:
        answer(session, cfg, renderer, ticket, text, actor=user, via=VIA_DM, now=now)
        return ticket
    outbox.enqueue_dm(
        session,
        user,
        renderer.render("dm_answer", t=None, others=[], owner=None),
        f"dm-answer:{user}:{message_ts}",
        now,
    )
    return None
