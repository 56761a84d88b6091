"""Resolution's entry points: one call per gesture on a card, a modal or a reminder DM.

A listener parses the payload, calls one of these with the desk and answers.
What every gesture needs around the unit of work of :mod:`bot.resolution.service`,
:mod:`bot.resolution.questions` or :mod:`bot.resolution.followups` sits here once:
the transaction, the ticket's row lock (two submits on one ticket take turns), the
claim of a modal's view id (a double submit is taken once), "not found", and the
audit of a refusal (:func:`bot.tickets.permissions.audited`), which outlives the
rolled-back change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.core import forms
from bot.core.desk import Desk
from bot.core.errors import NotFound
from bot.core.forms import as_date
from bot.resolution import followups, questions, service
from bot.tickets import lookup, permissions
from bot.tickets.lifecycle import Action, Status, target
from bot.tickets.permissions import Verb
from storage.db import transaction
from storage.models import FollowUp, Ticket
from storage.queries import claim_request, ticket_by_id

ANSWER_BLOCK = questions.ANSWER_BLOCK


@dataclass(frozen=True)
class Submitted:
    """One submitted modal of this module: the ticket it is about, the view and its values."""

    ticket_id: int
    view_id: str
    values: dict[str, Any]  # ``bot.core.forms.values``
    actor: str

    @classmethod
    def of(cls, desk: Desk, view: dict[str, Any], actor: str) -> Submitted:
        """A submitted modal of this module, its ticket id read from the signed
        ``private_metadata`` (:class:`~bot.core.sealed.Tampered` if it was changed)."""
        ticket_id = int(desk.seal.open_view(view, user=actor))
        return cls(ticket_id, str(view["id"]), forms.values(view), actor)


# -- buttons: the modal to open, if the clicker may go on ---------------------------------


def resolve_modal(desk: Desk, key: str, *, actor: str) -> dict[str, Any]:
    def build(ticket: Ticket, now: datetime) -> dict[str, Any]:
        permissions.check(desk.config, ticket, actor, Verb.RESOLVE)
        target(Action.RESOLVE, Status(ticket.status))
        return service.resolve_form(desk.renderer, desk.config, ticket)

    return _reading(desk, key, actor, build)


def ask_modal(desk: Desk, key: str, *, actor: str) -> dict[str, Any]:
    def build(ticket: Ticket, now: datetime) -> dict[str, Any]:
        permissions.check(desk.config, ticket, actor, Verb.ASK)
        target(Action.WAIT, Status(ticket.status))
        return questions.ask_form(desk.renderer, ticket)

    return _reading(desk, key, actor, build)


def answer_modal(desk: Desk, key: str, *, actor: str) -> dict[str, Any]:
    """The ask DM's Answer button: the reporter's answer form."""
    with desk.sessions() as session:
        form = questions.answer_form(session, desk.renderer, lookup.by_key(session, key), actor)
        return desk.seal.seal_view(form)  # its ticket id signed, as every modal's


def reopen_modal(desk: Desk, key: str, *, actor: str) -> dict[str, Any]:
    def build(ticket: Ticket, now: datetime) -> dict[str, Any]:
        service.check_reopen(desk.config, desk.renderer, ticket, actor, now)
        return service.reopen_form(desk.renderer, desk.config, ticket)

    return _reading(desk, key, actor, build)


def followup_modal(desk: Desk, key: str, *, actor: str) -> dict[str, Any]:
    """The card's "Add follow-up" button and ``/escalate followup ESC-n``."""

    def build(ticket: Ticket, now: datetime) -> dict[str, Any]:
        permissions.check(desk.config, ticket, actor, Verb.FOLLOW_UP)
        return followups.form(desk.renderer, desk.config, ticket, actor, now)

    return _reading(desk, key, actor, build)


# -- modal submissions ------------------------------------------------------------------


def resolve(desk: Desk, form: Submitted) -> None:
    cfg = desk.config

    def work(session: Session, ticket: Ticket, now: datetime) -> None:
        outcome = service.read_resolve_form(cfg, ticket, form.values)
        service.resolve(session, cfg, desk.renderer, ticket, outcome, actor=form.actor, now=now)

    _submitting(desk, form, work)


def ask_reporter(desk: Desk, form: Submitted) -> None:
    def work(session: Session, ticket: Ticket, now: datetime) -> None:
        question = form.values.get("question")
        questions.ask_reporter(
            session, desk.config, desk.renderer, ticket, question, actor=form.actor, now=now
        )

    _submitting(desk, form, work)


def answer(desk: Desk, form: Submitted) -> None:
    """The reporter's answer form submitted (a double submit of one view is taken once)."""

    def work(session: Session, ticket: Ticket, now: datetime) -> None:
        text = form.values.get(questions.ANSWER_BLOCK)
        questions.answer(
            session, desk.config, desk.renderer, ticket, text,
            actor=form.actor, via=questions.VIA_FORM, now=now,
        )  # fmt: skip

    _submitting(desk, form, work)


def resume(desk: Desk, key: str, *, actor: str) -> None:
    """The card's Resume button: the owner goes on without the reporter's answer."""
    with permissions.attempt(desk, actor) as (session, now):
        ticket = lookup.by_key(session, key, lock=True)
        questions.resume_by_owner(session, desk.config, desk.renderer, ticket, actor=actor, now=now)


def reopen(desk: Desk, form: Submitted) -> None:
    def work(session: Session, ticket: Ticket, now: datetime) -> None:
        reason = form.values.get("reason")
        service.reopen(
            session, desk.config, desk.renderer, ticket, reason, actor=form.actor, now=now
        )

    _submitting(desk, form, work)


def add_followup(desk: Desk, form: Submitted) -> None:
    def work(session: Session, ticket: Ticket, now: datetime) -> None:
        followups.add(
            session,
            desk.config,
            desk.renderer,
            ticket,
            kind=form.values.get("kind"),
            description=form.values.get("description"),
            owner=form.values.get("owner"),
            due=as_date(form.values.get("due")),
            actor=form.actor,
            now=now,
        )

    _submitting(desk, form, work)


# -- a follow-up's own buttons (reminder DM, App Home) -----------------------------------


def followup_done(desk: Desk, followup_id: int, *, actor: str) -> dict[str, Any]:
    """Close the follow-up; returns its reminder DM as it reads now."""

    def work(session: Session, now: datetime) -> FollowUp:
        return followups.done(
            session, desk.config, desk.renderer, followup_id, actor=actor, now=now
        )

    return _changing_followup(desk, actor, work, "done")


def followup_snooze(desk: Desk, followup_id: int, *, actor: str) -> dict[str, Any]:
    """Remind again in a day; returns the reminder DM as it reads now."""

    def work(session: Session, now: datetime) -> FollowUp:
        return followups.snooze(session, desk.config, followup_id, actor=actor, now=now)

    return _changing_followup(desk, actor, work, "snoozed")


def followup_list(desk: Desk, user: str) -> dict[str, Any]:
    """``/escalate followups``, rendered."""
    with desk.sessions() as session:
        listing = followups.listing(session, desk.config, user, desk.clock.now())
        return desk.renderer.render("followups_list", **listing)


# -- the card's thread ----------------------------------------------------------------


def thread_reply(desk: Desk, *, channel: str, thread_ts: str, user: str, text: str) -> bool:
    """A person's reply in a thread: True if it was the answer a waiting ticket needed.

    Cards live in the intake channel only, so replies elsewhere are not even looked up.
    """
    if channel != desk.config.workspace.intake_channel:
        return False
    with transaction(desk.sessions) as session:
        resumed = questions.on_thread_reply(
            session,
            desk.config,
            desk.renderer,
            channel=channel,
            thread_ts=thread_ts,
            user=user,
            text=text,
            now=desk.clock.now(),
        )
        return resumed is not None


def dm_reply(desk: Desk, *, user: str, text: str, message_ts: str) -> str | None:
    """A person's message to escbot in a DM: the key of the waiting ticket it answered."""
    with transaction(desk.sessions) as session:
        answered = questions.on_dm_reply(
            session,
            desk.config,
            desk.renderer,
            user=user,
            text=text,
            message_ts=message_ts,
            now=desk.clock.now(),
        )
        return None if answered is None else answered.key


# -- helpers ----------------------------------------------------------------------------


def _reading(
    desk: Desk, key: str, actor: str, build: Callable[[Ticket, datetime], dict[str, Any]]
) -> dict[str, Any]:
    """The modal ``build`` makes for the ticket ``key``, its ticket id signed."""
    now = desk.clock.now()
    with permissions.audited(desk.sessions, actor, now), desk.sessions() as session:
        return desk.seal.seal_view(build(lookup.by_key(session, key), now))


def _submitting(
    desk: Desk, form: Submitted, work: Callable[[Session, Ticket, datetime], None]
) -> None:
    with permissions.attempt(desk, form.actor) as (s, now):
        ticket = ticket_by_id(s, form.ticket_id, lock=True)
        if ticket is None:
            raise NotFound("That ticket no longer exists.")
        if claim_request(s, f"view:{form.view_id}", now, {}):
            work(s, ticket, now)


def _changing_followup(
    desk: Desk, actor: str, work: Callable[[Session, datetime], FollowUp], kind: str
) -> dict[str, Any]:
    with permissions.attempt(desk, actor) as (session, now):
        fu = work(session, now)
        shown = followups.message_context(
            desk.config, fu, session.get_one(Ticket, fu.ticket_id), now
        )
    return desk.renderer.render("followup_message", **shown, kind=kind, audience="dm", actor=actor)
