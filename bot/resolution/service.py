"""Resolving a ticket, waiting on its reporter, resuming, and reopening it.

Each function is one unit of work inside the caller's transaction: the
status change with its audit event, the SLA bookkeeping (:func:`bot.sla.sync`),
the thread line, the DMs and the card refresh commit together or not at all.
Input problems raise :class:`bot.core.forms.FieldErrors` before anything changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import sla
from bot.config import AppConfig, format_duration
from bot.core.blockkit import Button
from bot.core.errors import DomainError, NotAllowed, TransitionError
from bot.core.forms import FieldErrors
from bot.core.render import Renderer
from bot.core.text import clean
from bot.delivery import outbox
from bot.tickets import permissions
from bot.tickets.lifecycle import TRANSITIONS, Action, Change, Status, target, transition
from bot.tickets.permissions import Verb
from storage.models import Ticket, TicketEvent

RATIONALE_MAX = 3000
TEXT_MAX = 2000
#: How a reporter's answer reached escbot (:func:`answer`).
VIA_FORM, VIA_DM, VIA_THREAD = "form", "dm", "thread"
ANSWER_BLOCK = "answer"  # the answer modal's input


@dataclass(frozen=True)
class Outcome:
    """What the resolve modal records; vendor fields only where a vendor decided first."""

    decision: str | None
    rationale: str | None
    policy_section: str | None = None
    vendor_correct: bool | None = None
    vendor_error_category: str | None = None


# -- the modals -------------------------------------------------------------------------


def resolve_form(renderer: Renderer, cfg: AppConfig, ticket: Ticket) -> dict[str, Any]:
    """The resolve modal; the vendor question only where a vendor decided first."""
    vendor = None
    if ticket.vendor:
        known = cfg.vendors.get(ticket.vendor)
        vendor = {
            "name": known.name if known else ticket.vendor,
            "error_categories": known.error_categories if known else (),
        }
    return renderer.render(
        "resolve_modal",
        t=ticket,
        decisions=cfg.resolution.decisions,
        sections=cfg.policy_areas[ticket.policy_area].policy_sections,
        vendor=vendor,
    )


def read_resolve_form(cfg: AppConfig, ticket: Ticket, values: dict[str, Any]) -> Outcome:
    """The submitted resolve modal (``bot.core.forms.values``) as an :class:`Outcome`."""
    sections = cfg.policy_areas[ticket.policy_area].policy_sections
    index = values.get("policy_section")
    section = (
        sections[int(index)] if index and index.isdigit() and int(index) < len(sections) else None
    )
    return Outcome(
        decision=values.get("decision"),
        rationale=values.get("rationale"),
        policy_section=section,
        vendor_correct={"yes": True, "no": False}.get(values.get("vendor_correct") or ""),
        vendor_error_category=values.get("vendor_error_category"),
    )


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


def reopen_form(renderer: Renderer, cfg: AppConfig, ticket: Ticket) -> dict[str, Any]:
    return renderer.render(
        "reopen_modal", t=ticket, decision=outcome_context(cfg, ticket)["decision"]
    )


def check_reopen(
    cfg: AppConfig, renderer: Renderer, ticket: Ticket, user: str, now: datetime
) -> None:
    """Who may reopen (:mod:`bot.tickets.permissions`), and until when; raises a
    DomainError that says why not."""
    permissions.check(cfg, ticket, user, Verb.REOPEN)
    target(Action.REOPEN, Status(ticket.status))  # a readable error if not resolved
    if not _reopenable_at(cfg, ticket, now):
        assert ticket.resolved_at is not None
        raise DomainError(
            f"{ticket.key} was resolved on {renderer.when(ticket.resolved_at)}; tickets can be "
            f"reopened for {format_duration(cfg.resolution.reopen_window)} after that. Please "
            f"open a new escalation and mention {ticket.key} in it."
        )


def check_outcome(cfg: AppConfig, ticket: Ticket, outcome: Outcome) -> Outcome:
    """The outcome with its text cleaned, or FieldErrors naming each bad field."""
    errors: dict[str, str] = {}
    if outcome.decision not in cfg.resolution.decisions:
        errors["decision"] = "Pick the decision taken."
    sections = cfg.policy_areas[ticket.policy_area].policy_sections
    if outcome.policy_section and outcome.policy_section not in sections:
        errors["policy_section"] = "Pick one of the policy's sections."
    rationale = clean(outcome.rationale or "").strip()
    if not rationale:
        errors["rationale"] = "Say why: the rationale is kept with the decision."
    elif len(rationale) > RATIONALE_MAX:
        errors["rationale"] = f"Keep it under {RATIONALE_MAX} characters."
    correct, category = None, None
    if ticket.vendor:
        correct = outcome.vendor_correct
        vendor = cfg.vendors.get(ticket.vendor)
        if correct is None:
            errors["vendor_correct"] = "Say whether the vendor's decision was right."
        elif correct is False:
            category = outcome.vendor_error_category
            allowed = vendor.error_categories if vendor else ()
            if allowed and category not in allowed:
                errors["vendor_error_category"] = "Pick what the vendor got wrong."
    if errors:
        raise FieldErrors(errors)
    return Outcome(outcome.decision, rationale, outcome.policy_section or None, correct, category)


def resolve(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    outcome: Outcome,
    *,
    actor: str,
    now: datetime,
) -> Change:
    """Record the decision and close the ticket; the reporter learns the outcome by DM."""
    permissions.check(cfg, ticket, actor, Verb.RESOLVE)
    outcome = check_outcome(cfg, ticket, outcome)
    change = transition(
        session,
        ticket,
        Action.RESOLVE,
        actor=actor,
        now=now,
        payload={
            "decision": outcome.decision,
            "policy_section": outcome.policy_section,
            "rationale": outcome.rationale,
            "vendor_correct": outcome.vendor_correct,
            "vendor_error_category": outcome.vendor_error_category,
        },
    )
    ticket.decision = outcome.decision
    ticket.policy_section = outcome.policy_section
    ticket.rationale = outcome.rationale
    ticket.vendor_correct = outcome.vendor_correct
    ticket.vendor_error_category = outcome.vendor_error_category
    sla.sync(session, cfg, ticket, now)
    context = outcome_context(cfg, ticket) | {"actor": actor}
    _announce(session, renderer, change.event, "resolution_notice", context, now)
    outbox.enqueue_dm(
        session,
        ticket.reporter_id,
        renderer.render("resolution_notice", **context, audience="dm"),
        f"dm:{ticket.id}:{change.event.id}:{ticket.reporter_id}",
        now,
        ticket=ticket,
    )
    return change


def outcome_context(cfg: AppConfig, ticket: Ticket) -> dict[str, Any]:
    """How the recorded outcome reads (card, thread, DM)."""
    vendor = cfg.vendors.get(ticket.vendor or "")
    verdict = None
    if ticket.vendor and ticket.vendor_correct is not None:
        name = vendor.name if vendor else ticket.vendor
        if ticket.vendor_correct:
            verdict = f"{name}: decision upheld"
        else:
            category = (ticket.vendor_error_category or "unspecified").replace("_", " ")
            verdict = f"{name}: decision overturned ({category})"
    return {
        "t": ticket,
        "decision": cfg.resolution.decisions.get(ticket.decision or "", ticket.decision or "—"),
        "policy_section": ticket.policy_section,
        "rationale": ticket.rationale or "",
        "verdict": verdict,
        "reopen_window": cfg.resolution.reopen_window,
    }


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
    text = _required(question, "question", "Write the question for the reporter.")
    change = transition(
        session, ticket, Action.WAIT, actor=actor, now=now, payload={"question": text}
    )
    # Asking is working on it: like resolving, it acknowledges a ticket not yet acked
    # (the reply resumes it as acknowledged, and no Ack button is offered then).
    ticket.acked_at = ticket.acked_at or now
    sla.sync(session, cfg, ticket, now)
    context = {"t": ticket, "kind": "asked", "actor": actor, "text": text}
    _announce(session, renderer, change.event, "ticket_update", context, now)
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
        reply = _required(text, ANSWER_BLOCK, "Write your answer.")
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
        "paused": format_duration(timedelta(seconds=waited)),
    }
    _announce(session, renderer, change.event, "ticket_update", context, now)
    _dm_owner(session, cfg, renderer, ticket, change.event, context, now)
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


def reopen(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    reason: str | None,
    *,
    actor: str,
    now: datetime,
) -> Change:
    """Reopen a resolved ticket within ``cfg.resolution.reopen_window``, with a reason."""
    check_reopen(cfg, renderer, ticket, actor, now)
    text = _required(reason, "reason", "Say why the ticket needs another look.")
    sla.pause_while_resolved(cfg, ticket, now)
    change = transition(
        session, ticket, Action.REOPEN, actor=actor, now=now, payload={"reason": text}
    )
    ticket.reopened_count = (ticket.reopened_count or 0) + 1
    sla.sync(session, cfg, ticket, now)
    context = {"t": ticket, "kind": "reopened", "actor": actor, "text": text}
    _announce(session, renderer, change.event, "ticket_update", context, now)
    _dm_owner(session, cfg, renderer, ticket, change.event, context, now)
    return change


def reopen_allowed(cfg: AppConfig, ticket: Ticket, user: str, now: datetime) -> bool:
    """Offer Reopen (App Home) only where it would work."""
    return (
        ticket.status == Status.RESOLVED.value
        and _reopenable_at(cfg, ticket, now)
        and permissions.allowed(cfg, ticket, user, Verb.REOPEN)
    )


def _reopenable_at(cfg: AppConfig, ticket: Ticket, now: datetime) -> bool:
    """Still inside ``resolution.reopen_window`` of the decision."""
    return ticket.resolved_at is None or now - ticket.resolved_at <= cfg.resolution.reopen_window


def card_buttons(ticket: Ticket) -> list[Button]:
    """This module's buttons on the card, for the ticket's status.

    Follow-ups are often born after the decision, so "Add follow-up" stays on
    resolved cards, next to "Reopen".
    """
    status, key = Status(ticket.status), ticket.key
    buttons: list[Button] = []
    if status is Status.RESOLVED:
        buttons.append({"text": "Reopen", "action_id": "ticket_reopen", "value": key})
    if status in TRANSITIONS[Action.RESOLVE][0]:
        buttons.append({"text": "Resolve", "action_id": "ticket_resolve", "value": key})
    if status in TRANSITIONS[Action.WAIT][0]:
        buttons.append({"text": "Ask reporter", "action_id": "ticket_ask_reporter", "value": key})
    if status is Status.WAITING:  # the owner goes on without the answer
        buttons.append({"text": "Resume", "action_id": "ticket_resume", "value": key})
    buttons.append({"text": "Add follow-up", "action_id": "followup_add", "value": key})
    return buttons


# -- helpers ----------------------------------------------------------------------------


def _required(value: str | None, block_id: str, message: str) -> str:
    text = clean(value or "").strip()
    if not text:
        raise FieldErrors({block_id: message})
    if len(text) > TEXT_MAX:
        raise FieldErrors({block_id: f"Keep it under {TEXT_MAX} characters."})
    return text


def _announce(
    session: Session,
    renderer: Renderer,
    event: TicketEvent,
    template: str,
    context: dict[str, Any],
    now: datetime,
) -> None:
    """The thread line for ``event`` and the card refresh."""
    session.flush()
    ticket = event.ticket
    payload = renderer.render(template, **context, audience="thread")
    outbox.enqueue_thread(session, ticket, payload, f"thread:{ticket.id}:{event.id}", now)
    outbox.enqueue_card(session, ticket, now)


def _dm_owner(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    ticket: Ticket,
    event: TicketEvent,
    context: dict[str, Any],
    now: datetime,
) -> None:
    owner = ticket.assignee_id or cfg.pod_for_area(ticket.policy_area).lead
    if owner == context.get("actor"):
        return
    outbox.enqueue_dm(
        session,
        owner,
        renderer.render("ticket_update", **context, audience="dm"),
        f"dm:{ticket.id}:{event.id}:{owner}",
        now,
        ticket=ticket,
    )
