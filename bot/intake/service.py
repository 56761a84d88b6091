"""Opening tickets: the domain side of ``/escalate``, the message shortcut and the intake modal.

Opening a ticket takes two transactions. The submission's writes what its ack
needs: the ticket, its content items, its "created" audit event and a durable route
step (:func:`create_ticket`); once it commits, the ticket exists and will be routed
and announced. The step (:mod:`bot.intake.opening`) routes it, starts its clocks and
queues the Slack messages announcing it (card, details in the card's thread, the
reporter's DM with the card's link), exactly once, right after the ack or, after a
crash, on a scheduler's timer tick.

Every submission carries an idempotency key (the Slack view id): the same
submission delivered twice — a retry, a double click, or both buttons of the
duplicate choice — has exactly one outcome, claimed in the transaction that
makes it (``storage.queries.claim_request``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.core.errors import DomainError
from bot.core.render import Renderer
from bot.core.text import clean
from bot.delivery import outbox
from bot.intake import messages as intake_messages
from bot.intake import opening
from bot.intake.content import normalize
from bot.intake.draft import Draft
from bot.resolution import service as resolution
from bot.tickets import permissions
from bot.tickets.lifecycle import OPEN_STATUSES, Status, is_open, record
from bot.tickets.permissions import Verb
from storage.models import ContentItem, Ticket, Watcher
from storage.queries import (
    claim_request,
    lock_names,
    next_number,
    request_result,
    set_request_result,
    ticket_key,
)

#: The audit action of a second report of a ticket's content (trends count these).
REPORTED_AGAIN = "reported_again"


class Result(StrEnum):
    CREATED = "created"
    ADDED = "added"  # the reporter joined an open ticket covering the same content
    DUPLICATE = "duplicate"  # nothing written: the reporter must choose
    REQUESTED = "requested"  # the reporter asked to follow a ticket they may not see
    REOPENED = "reopened"  # the reporter reopened the resolved ticket that had the content
    REPEAT = "repeat"  # this request was handled before; ``previous`` says how


@dataclass(frozen=True)
class Match:
    """An open ticket that already covers some of the draft's content."""

    ticket: Ticket
    content: tuple[str, ...]  # the draft's references it covers, as the reporter typed them


@dataclass(frozen=True)
class Outcome:
    result: Result
    ticket: Ticket | None = None
    matches: tuple[Match, ...] = ()
    #: with no open match, resolved tickets that were about some of the content
    earlier: tuple[Match, ...] = ()
    added: tuple[str, ...] = ()  # content newly added to an existing ticket
    previous: dict[str, Any] = field(default_factory=dict)  # for REPEAT: {"result", "key"}


def submit(
    session: Session,
    cfg: AppConfig,
    draft: Draft,
    *,
    reporter: str,
    now: datetime,
    request_key: str,
    allow_duplicate: bool = False,
    linked: str | None = None,
) -> Outcome:
    """Create a ticket for ``draft`` (its route step still to run) unless this request was
    handled or its content is already in an open ticket, or was in a resolved one (then
    DUPLICATE, and nothing is written). ``linked``: the resolved ticket the reporter chose
    to open a new one after.

    The check holds under concurrency: content found in no open ticket is locked
    (:func:`claim_content`) and looked up again, so of two reports of the same content
    at the same instant the second waits for the first to commit its ticket, and is
    offered it. Reports of content already in a ticket (the rest of a burst) take no lock
    and so do not queue behind each other."""
    previous = request_result(session, request_key)
    if previous is not None:
        return Outcome(Result.REPEAT, previous=previous)
    if not allow_duplicate:
        matches = find_duplicates(session, draft.content)
        if not matches and claim_content(session, draft.content):
            matches = find_duplicates(session, draft.content)
        if matches:
            return Outcome(Result.DUPLICATE, matches=tuple(matches))
        if earlier := reported_before(session, draft.content):
            return Outcome(Result.DUPLICATE, earlier=tuple(earlier))
    # only a ticket that really had this content: the button's value is the client's
    before = (
        next((m for m in reported_before(session, draft.content) if m.ticket.key == linked), None)
        if linked
        else None
    )
    if not claim_request(session, request_key, now, {}):
        return Outcome(Result.REPEAT, previous=request_result(session, request_key) or {})
    ticket = create_ticket(
        session, cfg, draft, reporter=reporter, now=now, before=before.ticket if before else None
    )
    remember(session, request_key, Result.CREATED, ticket)
    return Outcome(Result.CREATED, ticket=ticket)


def create_ticket(
    session: Session,
    cfg: AppConfig,
    draft: Draft,
    *,
    reporter: str,
    now: datetime,
    before: Ticket | None = None,
) -> Ticket:
    """The ticket, its content, its "create" audit event and its pending route step
    (:mod:`bot.intake.opening`, which routes it and queues its messages): what a
    submission commits before its ack. The caller owns the transaction.
    ``before``: the resolved ticket this one follows, named in its thread."""
    number = next_number(session)
    area = cfg.policy_areas[draft.policy_area]
    ticket = Ticket(
        number=number,
        key=ticket_key(number),
        summary=clean(draft.summary),
        details=clean(draft.details),
        policy_area=draft.policy_area,
        severity=draft.severity,
        sensitive=area.sensitive,
        status=Status.NEW.value,
        reporter_id=reporter,
        source_team=draft.source_team,
        source_channel=draft.source_channel,
        source_permalink=draft.source_permalink,
        vendor=draft.vendor,
        region=draft.region,
        language=draft.language,
        requested_action=draft.requested_action,
        deadline=draft.deadline,
        card_channel=cfg.workspace.intake_channel,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    for raw in draft.content:
        kind, norm = normalize(raw)
        ticket.content_items.append(
            ContentItem(raw=raw, normalized=norm, kind=kind, created_at=now)
        )
    record(
        session,
        ticket,
        "create",
        actor=reporter,
        now=now,
        to_status=Status.NEW.value,
        payload={
            "policy_area": draft.policy_area,
            "severity": draft.severity,
            **({"reported_before": before.key} if before else {}),
        },
    )
    opening.schedule(session, ticket, now, before)
    return ticket


def open_ticket(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    draft: Draft,
    *,
    reporter: str,
    now: datetime,
    before: Ticket | None = None,
) -> Ticket:
    """Both steps of opening a ticket in the caller's one transaction: for callers that
    answer nobody in between (seeding, tests, benchmarks)."""
    ticket = create_ticket(session, cfg, draft, reporter=reporter, now=now, before=before)
    opening.settle(session, cfg, renderer, ticket.id, now)
    return ticket


def add_to_ticket(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    key: str,
    draft: Draft,
    *,
    reporter: str,
    now: datetime,
    request_key: str,
) -> Outcome:
    """The reporter's "add to ESC-n": they follow the ticket, their new content joins it,
    and the audit trail, the thread and the card say so. Only for a ticket the reporter
    may see (:func:`bot.tickets.permissions.may_see`); anyone else asks to follow it."""
    previous = request_result(session, request_key)
    if previous is not None:
        return Outcome(Result.REPEAT, previous=previous)
    claim_content(session, draft.content)  # content locks first, then the ticket's row
    # Not routed yet (its step runs right after the ack that made it): route it first,
    # so that its card and details come before this report's line.
    ticket = opening.routed(session, cfg, renderer, key, now)
    permissions.check(cfg, ticket, reporter, Verb.SEE, watchers=watchers(session, ticket))
    if not is_open(ticket.status):
        raise DomainError(f"{ticket.key} was resolved meanwhile: open a new ticket instead.")
    if not claim_request(session, request_key, now, {}):
        return Outcome(Result.REPEAT, previous=request_result(session, request_key) or {})
    added = _add_content(ticket, draft, now)
    watching = watch(session, ticket, reporter, now)
    event = record(
        session,
        ticket,
        REPORTED_AGAIN,
        actor=reporter,
        now=now,
        payload={"added": added, "watching": watching},
    )
    ticket.updated_at = now
    outbox.enqueue_card(session, ticket, now)
    line = intake_messages.reported_again(renderer, cfg, ticket, reporter, draft, added, watching)
    outbox.enqueue_thread(session, ticket, line, f"thread:{ticket.id}:{event.id}", now)
    outbox.enqueue_dm(
        session,
        reporter,
        intake_messages.reporter_added(renderer, cfg, ticket, added),
        f"dm:{reporter}:{event.id}:added",
        now,
        ticket,
        after_card=True,
    )
    remember(session, request_key, Result.ADDED, ticket)
    return Outcome(Result.ADDED, ticket=ticket, added=tuple(added))


def watch(session: Session, ticket: Ticket, user_id: str, now: datetime) -> bool:
    """Make ``user_id`` follow ``ticket``; False if they already do (or reported it)."""
    if user_id in (ticket.reporter_id, ticket.assignee_id):
        return False
    exists = session.scalar(
        select(Watcher.id).where(Watcher.ticket_id == ticket.id, Watcher.user_id == user_id)
    )
    if exists:
        return False
    session.add(Watcher(ticket_id=ticket.id, user_id=user_id, created_at=now))
    return True


def watchers(session: Session, ticket: Ticket) -> list[str]:
    return list(
        session.scalars(
            select(Watcher.user_id).where(Watcher.ticket_id == ticket.id).order_by(Watcher.id)
        )
    )


def claim_content(session: Session, content: tuple[str, ...] | list[str]) -> bool:
    """Lock ``content`` (in canonical form) until the transaction ends: whoever checks it
    for duplicates and then writes a ticket with it does so one at a time. False where
    the transaction holds the database's write lock anyway (SQLite): nothing changed."""
    return lock_names(session, (f"content:{normalize(raw)[1]}" for raw in content))


def find_duplicates(session: Session, content: tuple[str, ...] | list[str]) -> list[Match]:
    """Open tickets holding any of ``content`` (after normalizing), oldest ticket first."""
    return _holding(session, content, OPEN_STATUSES, Ticket.number)


def reported_before(session: Session, content: tuple[str, ...] | list[str]) -> list[Match]:
    """Resolved tickets that held any of ``content``, the latest decision first."""
    return _holding(session, content, (Status.RESOLVED,), Ticket.resolved_at.desc())


def _holding(
    session: Session,
    content: tuple[str, ...] | list[str],
    statuses: tuple[Status, ...],
    order: Any,
) -> list[Match]:
    wanted: dict[str, str] = {}
    for raw in content:
        wanted.setdefault(normalize(raw)[1], raw)
    if not wanted:
        return []
    rows = session.execute(
        select(ContentItem.normalized, Ticket)
        .join(Ticket, ContentItem.ticket_id == Ticket.id)
        .where(ContentItem.normalized.in_(list(wanted)))
        .where(Ticket.status.in_([s.value for s in statuses]))
        .order_by(order, Ticket.number, ContentItem.id)
    ).all()
    found: dict[int, tuple[Ticket, list[str]]] = {}
    for norm, ticket in rows:
        raws = found.setdefault(ticket.id, (ticket, []))[1]
        if wanted[norm] not in raws:
            raws.append(wanted[norm])
    return [Match(ticket, tuple(raws)) for ticket, raws in found.values()]


def reopen_reported(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    key: str,
    draft: Draft,
    *,
    reporter: str,
    now: datetime,
    request_key: str,
) -> Outcome:
    """The reporter's "reopen ESC-n" on content a resolved ticket had: reopened with their
    summary as the reason (who may, and until when: ``resolution.service.check_reopen``)."""
    previous = request_result(session, request_key)
    if previous is not None:
        return Outcome(Result.REPEAT, previous=previous)
    # A new report of this content waits for the reopen, then finds the ticket open; a
    # double click that waited here for the first one gets the first one's answer.
    if claim_content(session, draft.content) and (previous := request_result(session, request_key)):
        return Outcome(Result.REPEAT, previous=previous)
    match = next((m for m in reported_before(session, draft.content) if m.ticket.key == key), None)
    if match is None:
        raise DomainError(f"{key} isn't a resolved ticket about this content any more.")
    ticket = match.ticket
    session.refresh(ticket, with_for_update=True)
    if not claim_request(session, request_key, now, {}):
        return Outcome(Result.REPEAT, previous=request_result(session, request_key) or {})
    reason = f"Reported again: {draft.summary}"
    resolution.reopen(session, cfg, renderer, ticket, reason, actor=reporter, now=now)
    _add_content(ticket, draft, now)
    watch(session, ticket, reporter, now)
    remember(session, request_key, Result.REOPENED, ticket)
    return Outcome(Result.REOPENED, ticket=ticket)


def _add_content(ticket: Ticket, draft: Draft, now: datetime) -> list[str]:
    """The draft's content the ticket doesn't have yet, added to it; returns it as typed."""
    known = {item.normalized for item in ticket.content_items}
    added: list[str] = []
    for raw in draft.content:
        kind, norm = normalize(raw)
        if norm not in known:
            known.add(norm)
            added.append(raw)
            ticket.content_items.append(
                ContentItem(raw=raw, normalized=norm, kind=kind, created_at=now)
            )
    return added


def remember(session: Session, request_key: str, result: Result, ticket: Ticket) -> None:
    """What a claimed request did, for its repeats (``Result.REPEAT``)."""
    set_request_result(session, request_key, {"result": result.value, "key": ticket.key})
