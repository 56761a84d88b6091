"""Asking to follow a ticket one may not see, and its owner's Approve / Decline.

The duplicate check tells someone outside a ticket's circle only "already being
handled by the desk (ESC-n)". Following it would show them its status and
history, so it takes the owner's consent: :func:`ask` DMs the owner (or the pod
lead, while nobody owns it) once per ticket and person, and :func:`answer`
carries out their click. The buttons carry the ticket and the requester signed
(:mod:`bot.core.sealed`), so a click can't name anyone else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.core.desk import Desk
from bot.core.errors import DomainError, NotFound
from bot.core.mrkdwn import mention
from bot.core.render import Renderer
from bot.core.sealed import Seal
from bot.delivery import outbox
from bot.intake import opening
from bot.intake.draft import Draft
from bot.intake.service import Outcome, Result, remember, watch
from bot.tickets import permissions
from bot.tickets.lifecycle import is_open, record
from bot.tickets.permissions import Verb
from storage.models import Ticket
from storage.queries import claim_request, request_result, ticket_by_id

APPROVE, DECLINE = "follow_approve", "follow_decline"
PURPOSE = "follow_request"  # what the buttons' values are signed for
ASKED, ADMITTED, DECLINED = "follow_requested", "follower_added", "follow_declined"


def ask(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    seal: Seal,
    key: str,
    draft: Draft,
    *,
    reporter: str,
    now: datetime,
    request_key: str,
) -> Outcome:
    """``reporter`` asks to follow ticket ``key``: its owner gets Approve / Decline."""
    previous = request_result(session, request_key)
    if previous is not None:
        return Outcome(Result.REPEAT, previous=previous)
    ticket = opening.routed(session, cfg, renderer, key, now)  # the owner decides
    if not is_open(ticket.status):
        raise DomainError(f"{ticket.key} was resolved meanwhile: open a new ticket instead.")
    if not claim_request(session, request_key, now, {}):
        return Outcome(Result.REPEAT, previous=request_result(session, request_key) or {})
    approver = ticket.assignee_id or cfg.pod_for_area(ticket.policy_area).lead
    value = seal.sign(PURPOSE, f"{ticket.id}:{reporter}")
    message = renderer.render(
        "follow_request",
        t=ticket,
        requester=mention(reporter),
        summary=draft.summary,
        items=len(draft.content),
        value=value,
        approve=APPROVE,
        decline=DECLINE,
        decided=None,
    )
    # once per ticket and person, however often they ask
    outbox.enqueue_dm(session, approver, message, f"dm:follow:{ticket.id}:{reporter}", now, ticket)
    record(session, ticket, ASKED, actor=reporter, now=now, payload={"approver": approver})
    remember(session, request_key, Result.REQUESTED, ticket)
    return Outcome(Result.REQUESTED, ticket=ticket)


def answer(desk: Desk, value: Any, *, actor: str, approve: bool) -> dict[str, Any]:
    """The owner's Approve / Decline; returns their DM as it reads now. A second click
    changes nothing; anyone but the owner, the lead or an admin is refused (audited)."""
    cfg = desk.config
    ticket_id, _, requester = desk.seal.open(PURPOSE, value, user=actor).partition(":")
    with permissions.attempt(desk, actor) as (session, now):
        ticket = ticket_by_id(session, int(ticket_id), lock=True)
        if ticket is None:
            raise NotFound("That ticket no longer exists.")
        permissions.check(cfg, ticket, actor, Verb.ADMIT)
        if watch(session, ticket, requester, now) if approve else True:
            _tell(session, desk.renderer, ticket, requester, approve, actor, now)
        return desk.renderer.render(
            "follow_request",
            t=ticket,
            requester=mention(requester),
            summary="",
            items=0,
            value="",
            approve=APPROVE,
            decline=DECLINE,
            decided={"approved": approve, "by": mention(actor)},
        )


def _tell(
    session: Session,
    renderer: Renderer,
    ticket: Ticket,
    requester: str,
    approved: bool,
    actor: str,
    now: datetime,
) -> None:
    """The audit line, and the requester's DM with the answer."""
    kind = ADMITTED if approved else DECLINED
    event = record(session, ticket, kind, actor=actor, now=now, payload={"user": requester})
    session.flush()
    message = renderer.render("follow_answer", t=ticket, approved=approved)
    outbox.enqueue_dm(session, requester, message, f"dm:{kind}:{event.id}", now)
