"""Modal submissions (view_submission); one small listener per callback_id.
(Also the buttons inside a modal, such as the intake's duplicate choice.)

Input problems go back to the modal as ``response_action: errors`` next to the
field, so the person fixes them without losing what they typed; anything else
closes the modal and is explained through the handler boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.core import forms
from bot.core.errors import DomainError, NotFound
from bot.core.forms import FieldErrors
from bot.intake import form as intake_form
from bot.intake import messages as intake_messages
from bot.intake import service as intake
from bot.resolution import followups
from bot.resolution import service as resolution
from bot.routing import ownership
from bot.services import Services
from handlers.boundary import guarded
from storage.db import transaction
from storage.models import Ticket
from storage.queries import claim_request, ticket_by_id


def register(app: App, services: Services) -> None:
    cfg, renderer = services.config, services.renderer
    _register_resolution(app, services)
    _register_intake(app, services)

    @app.view("ticket_reassign")
    @guarded
    def ticket_reassigned(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        key, user, now = (
            str(view.get("private_metadata") or ""),
            body["user"]["id"],
            services.clock.now(),
        )
        values = forms.values(view)
        to, reason = values.get(ownership.TO_BLOCK), values.get(ownership.REASON_BLOCK)

        def once(session: Session) -> None:
            """A double submit of this modal reassigns once (``route again`` would move twice)."""
            if claim_request(session, f"reassign:{view.get('id')}", now, {}):
                ownership.reassign(
                    session, cfg, renderer, key, actor=user, now=now, to=to, reason=reason
                )

        try:
            ownership.run(services.sessions, key, once, actor=user, now=now)
        except FieldErrors as err:
            ack(response_action="errors", errors=err.errors)
            return
        except DomainError as err:
            ack(response_action="errors", errors={ownership.TO_BLOCK: str(err)})
            return
        ack()


# -- resolution and follow-ups -----------------------------------------------------------
# Their modals carry the ticket id in private_metadata; a double submit of one
# view is taken once (the view id is claimed with the change).

Work = Callable[[Session, Ticket, dict[str, Any], str, datetime], object]


def _register_resolution(app: App, services: Services) -> None:
    cfg, renderer = services.config, services.renderer

    def submit(ack: Ack, body: dict[str, Any], view: dict[str, Any], work: Work) -> None:
        user, now, values = body["user"]["id"], services.clock.now(), forms.values(view)
        try:
            with transaction(services.sessions) as session:
                ticket = ticket_by_id(session, int(view["private_metadata"]), lock=True)
                if ticket is None:
                    raise NotFound("That ticket no longer exists.")
                if claim_request(session, f"view:{view['id']}", now, {}):
                    work(session, ticket, values, user, now)
        except FieldErrors as err:
            ack(response_action="errors", errors=err.errors)
            return
        ack()

    @app.view("resolve_modal")
    @guarded
    def resolve_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit(
            ack,
            body,
            view,
            lambda s, t, values, user, now: resolution.resolve(
                s,
                cfg,
                renderer,
                t,
                resolution.read_resolve_form(cfg, t, values),
                actor=user,
                now=now,
            ),
        )

    @app.view("ask_reporter_modal")
    @guarded
    def ask_reporter_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit(
            ack,
            body,
            view,
            lambda s, t, values, user, now: resolution.ask_reporter(
                s, cfg, renderer, t, values.get("question"), actor=user, now=now
            ),
        )

    @app.view("reopen_modal")
    @guarded
    def reopen_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit(
            ack,
            body,
            view,
            lambda s, t, values, user, now: resolution.reopen(
                s, cfg, renderer, t, values.get("reason"), actor=user, now=now
            ),
        )

    @app.view("followup_modal")
    @guarded
    def followup_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit(
            ack,
            body,
            view,
            lambda s, t, values, user, now: followups.add(
                s,
                cfg,
                renderer,
                t,
                kind=values.get("kind"),
                description=values.get("description"),
                owner=values.get("owner"),
                due=forms.as_date(values.get("due")),
                actor=user,
                now=now,
            ),
        )


def _register_intake(app: App, services: Services) -> None:
    """The intake modal's submission and the buttons of its duplicate choice."""
    cfg, renderer = services.config, services.renderer

    @app.view(intake_form.INTAKE_VIEW)
    @guarded
    def intake_submitted(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        user, now = body["user"]["id"], services.clock.now()
        form = intake_form.read(cfg, view, now)
        if form.draft is None:
            ack(response_action="errors", errors=form.errors)
            return
        with transaction(services.sessions) as s:
            done, choice = intake_form.submit(s, cfg, renderer, form, view, reporter=user, now=now)
        if choice is not None:  # already escalated: offer "add to ESC-n"
            ack(response_action="update", view=choice)
            return
        ack()
        if done.ticket is not None:
            ephemeral = intake_messages.reporter_ack(renderer, cfg, done.ticket)
            intake_messages.confirm(client, ephemeral, form.origin.channel, user)

    @app.action(intake_form.CHOICE_ACTIONS)
    @guarded
    def intake_choice(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        user, now, view = body["user"]["id"], services.clock.now(), body["view"]
        with transaction(services.sessions) as s:
            done, origin = intake_form.decide(
                s, cfg, renderer, view, action, reporter=user, now=now
            )
        client.views_update(view_id=view["id"], view=intake_form.done_view(renderer, cfg, done))
        if done.result is intake.Result.CREATED and done.ticket is not None:
            ephemeral = intake_messages.reporter_ack(renderer, cfg, done.ticket)
            intake_messages.confirm(client, ephemeral, origin.channel, user)
