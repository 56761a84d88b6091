"""The intake modal's entry points: one per listener.

``/escalate [text]`` and the message shortcut open the modal (:func:`command_modal`,
:func:`message_modal`; built in :mod:`bot.intake.modal`). :func:`submit_view` reads the
submission and, in one transaction, applies the per-person limits
(:mod:`bot.intake.limits`) before anything is looked up, then opens the ticket or, when
the content is already in an open ticket, offers the duplicate choice
(:mod:`bot.intake.choice`); :func:`choose` carries out a button of that choice.

Each listener calls one of them with a :class:`~bot.core.desk.Desk` and what it read
from the payload, and answers Slack with what it gets back (a view, :class:`Submitted`
or :class:`Chosen`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from bot.config import AppConfig
from bot.core.desk import Desk
from bot.core.forms import FieldErrors
from bot.core.render import Renderer
from bot.core.sealed import Tampered
from bot.intake import limits, opening
from bot.intake import messages as intake_messages
from bot.intake import service as intake
from bot.intake.choice import choice_view, decide, done_view
from bot.intake.modal import Origin, Prefill, Submission, modal, read, request_key
from bot.intake.service import Outcome, Result
from bot.tickets import permissions
from storage.db import transaction
from storage.queries import request_result


@dataclass(frozen=True)
class Submitted:
    """How the listener answers a submitted modal: ``errors`` go under its fields,
    ``choice`` replaces it; else it closes. ``finish`` — only when a ticket was opened —
    is the ticket's route step (:mod:`bot.intake.opening`), for the listener to run once
    it has acknowledged, the most urgent ``rank`` first (its severity's place in app.yaml);
    it returns the instant ephemeral (naming the owner) to show where the modal was opened."""

    errors: dict[str, str] = field(default_factory=dict)
    choice: dict[str, Any] | None = None
    finish: Callable[[], dict[str, Any]] | None = None
    rank: int = 0


@dataclass(frozen=True)
class Chosen:
    """How the listener answers a button of the duplicate choice: the modal's last
    view, and the confirmation to show where it was opened when a ticket was opened."""

    view: dict[str, Any]
    confirmation: dict[str, Any] | None = None


def command_modal(desk: Desk, text: str, channel: str | None) -> dict[str, Any]:
    """The modal ``/escalate [text]`` opens in ``channel``, prefilled from the text."""
    prefill = Prefill.from_text(desk.config, text)
    return desk.seal.seal_view(modal(desk.renderer, desk.config, prefill, Origin.of(channel)))


def message_modal(desk: Desk, channel: str, text: str, permalink: str | None) -> dict[str, Any]:
    """The modal the message shortcut opens, prefilled from the message."""
    prefill = Prefill.from_message(text, permalink)
    view = modal(desk.renderer, desk.config, prefill, Origin.of(channel, permalink))
    return desk.seal.seal_view(view)


def submit_view(desk: Desk, view: dict[str, Any], reporter: str) -> Submitted:
    """A submitted intake modal: its errors, the duplicate choice, or a ticket opened
    (committed before the answer, so the ack stands for a ticket that exists; routed by
    ``Submitted.finish``)."""
    now = desk.clock.now()
    try:
        origin = Origin.decode(_json(desk.seal.open_view(view, user=reporter)))
    except Tampered as err:  # logged by the seal; nothing is read from such a form
        return Submitted(errors={"summary": str(err)})
    form = read(desk.config, view, now, origin)
    if form.draft is None:
        return Submitted(errors=form.errors)
    try:
        with transaction(desk.sessions) as session:
            outcome, choice = submit(
                session, desk.config, desk.renderer, form, view, reporter=reporter, now=now
            )
    except FieldErrors as err:  # a per-person limit: said under the field it is about
        return Submitted(errors=err.errors)
    if choice is not None:  # already escalated: offer "add to ESC-n"
        return Submitted(choice=choice)
    if outcome.result is not Result.CREATED or outcome.ticket is None:
        return Submitted()
    return Submitted(
        finish=partial(_finish, desk, outcome.ticket.id),
        rank=list(desk.config.severities).index(outcome.ticket.severity),
    )


def submit(
    session: Session,
    cfg: AppConfig,
    renderer: Renderer,
    form: Submission,
    view: dict[str, Any],
    *,
    reporter: str,
    now: datetime,
) -> tuple[Outcome, dict[str, Any] | None]:
    """Submit a valid modal: the outcome, and the choice view to show when the content
    is already in an open ticket. Over a per-person limit: :class:`FieldErrors`."""
    draft = form.draft
    if draft is None:
        raise ValueError("submit a form without errors")
    key = request_key(view)
    if request_result(session, key) is None:  # a retry of a handled one is answered as before
        limits.check_tickets(session, cfg, reporter, draft.severity, now)
    look = bool(draft.content) and limits.lookup_allowed(
        session, cfg, reporter, draft.severity, now
    )
    outcome = intake.submit(
        session,
        cfg,
        draft,
        reporter=reporter,
        now=now,
        request_key=key,
        allow_duplicate=not look,
    )
    if outcome.result is not Result.DUPLICATE:
        return outcome, None
    choice = choice_view(
        session,
        renderer,
        cfg,
        draft,
        form.origin,
        outcome.matches,
        view_id=view["id"],
        reporter=reporter,
        now=now,
        earlier=outcome.earlier,
    )
    return outcome, choice


def choose(desk: Desk, view: dict[str, Any], action: dict[str, Any], reporter: str) -> Chosen:
    """A button of the duplicate choice: what the modal shows next, and the
    confirmation when "open a new one" opened a ticket."""
    with permissions.attempt(desk, reporter) as (session, now):
        outcome, _origin = decide(
            session,
            desk.config,
            desk.renderer,
            view,
            action,
            reporter=reporter,
            now=now,
            seal=desk.seal,
        )
    confirmation = None
    if outcome.result is Result.CREATED and outcome.ticket is not None:  # acked before
        ticket = opening.finish(desk, outcome.ticket.id)
        outcome = replace(outcome, ticket=ticket)
        confirmation = intake_messages.reporter_ack(desk.renderer, desk.config, ticket)
    return Chosen(
        view=done_view(desk.renderer, desk.config, outcome),
        confirmation=confirmation,
    )


def _finish(desk: Desk, ticket_id: int) -> dict[str, Any]:
    """A new ticket's route step, then the reporter's instant ephemeral."""
    ticket = opening.finish(desk, ticket_id)
    return intake_messages.reporter_ack(desk.renderer, desk.config, ticket)


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
