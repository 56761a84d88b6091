"""Modal submissions (view_submission); one small listener per callback_id.
(Also the buttons inside a modal, such as the intake's duplicate choice.)

Input problems go back to the modal as ``response_action: errors`` next to the
field, so the person fixes them without losing what they typed; anything else
closes the modal and is explained through the handler boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.core import forms
from bot.core.desk import Desk
from bot.core.errors import DomainError
from bot.core.forms import FieldErrors
from bot.intake import form as intake_form
from bot.intake.choice import CHOICE_ACTIONS
from bot.intake.modal import INTAKE_VIEW
from bot.resolution import entry as resolution
from bot.routing import ownership, severity
from bot.services import Services
from bot.slack import answers
from handlers.boundary import guarded


def register(app: App, services: Services) -> None:
    _register_resolution(app, services)
    _register_intake(app, services)

    @app.view("ticket_reassign")
    @guarded
    def ticket_reassigned(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values, user = forms.values(view), body["user"]["id"]
        try:
            ownership.reassign_ticket(
                services.desk,
                services.desk.seal.open_view(view, user=user),
                user,
                to=values.get(ownership.TO_BLOCK),
                reason=values.get(ownership.REASON_BLOCK),
                submission=str(view.get("id")),
                override=ownership.OVERRIDE in (values.get(ownership.OVERRIDE_BLOCK) or ()),
            )
        except FieldErrors as err:
            ack(response_action="errors", errors=err.errors)
            return
        except DomainError as err:
            ack(response_action="errors", errors={ownership.TO_BLOCK: str(err)})
            return
        ack()


    @app.view(severity.MODAL)
    @guarded
    def severity_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:
            severity.submitted(services.desk, view, forms.values(view), body["user"]["id"])
        except FieldErrors as err:
            ack(response_action="errors", errors=err.errors)
            return
        ack()


# -- resolution and follow-ups -----------------------------------------------------------
# Their modals carry the ticket id in signed private_metadata; a double submit of one
# view is taken once (``bot.resolution.entry``).


def _register_resolution(app: App, services: Services) -> None:
    def submit(
        ack: Ack,
        body: dict[str, Any],
        view: dict[str, Any],
        entry: Callable[[Desk, resolution.Submitted], None],
    ) -> None:
        try:
            form = resolution.Submitted.of(services.desk, view, body["user"]["id"])
            entry(services.desk, form)
        except FieldErrors as err:
            ack(response_action="errors", errors=err.errors)
            return
        ack()

    @app.view("resolve_modal")
    @guarded
    def resolve_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit(ack, body, view, resolution.resolve)

    @app.view("ask_reporter_modal")
    @guarded
    def ask_reporter_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit(ack, body, view, resolution.ask_reporter)

    @app.view("answer_modal")
    @guarded
    def answer_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        try:  # answered meanwhile (another form, a DM, the owner's Resume): say so in place
            submit(ack, body, view, resolution.answer)
        except DomainError as err:
            ack(response_action="errors", errors={resolution.ANSWER_BLOCK: str(err)})

    @app.view("reopen_modal")
    @guarded
    def reopen_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit(ack, body, view, resolution.reopen)

    @app.view("followup_modal")
    @guarded
    def followup_submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit(ack, body, view, resolution.add_followup)


def _register_intake(app: App, services: Services) -> None:
    """The intake modal's submission and the buttons of its duplicate choice."""
    desk = services.desk

    @app.view(INTAKE_VIEW)
    @guarded
    def intake_submitted(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        user = body["user"]["id"]
        answer = intake_form.submit_view(desk, view, user)
        if answer.errors:
            ack(response_action="errors", errors=answer.errors)
        elif answer.choice is not None:  # already escalated: offer "add to ESC-n"
            ack(response_action="update", view=answer.choice)
        else:
            ack()
            if (finish := answer.finish) is not None:  # route it, then tell the reporter
                services.router.submit(
                    answer.rank,
                    lambda: answers.confirm(client, finish(), answer.channel, user),
                )

    @app.action(CHOICE_ACTIONS)
    @guarded
    def intake_choice(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        user, view = body["user"]["id"], body["view"]
        answer = intake_form.choose(desk, view, action, user)
        client.views_update(view_id=view["id"], view=answer.view)
        if answer.confirmation is not None:
            answers.confirm(client, answer.confirmation, answer.channel, user)
