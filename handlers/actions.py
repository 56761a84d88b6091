"""Buttons on the ticket card (block actions); one small listener per action_id.
(Also the owner DM's "Decline — at my exposure cap".)

Each button's ``value`` is the ticket key. The listener acks first, then the
domain does the work; a refusal or a stale click comes back as an ephemeral
explanation through the handler boundary, and the card changes only through
the outbox.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.core.errors import NotFound
from bot.intake import following
from bot.resolution import entry as resolution
from bot.routing import ownership
from bot.services import Services
from handlers.boundary import guarded


def register(app: App, services: Services) -> None:
    _register_resolution(app, services)
    _register_following(app, services)

    @app.action(_action("ticket_ack"))
    @guarded
    def ticket_ack(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        ownership.acknowledge_ticket(services.desk, *_clicked(body, action))

    @app.action(_action("ticket_take"))
    @guarded
    def ticket_take(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        ownership.take_ticket(services.desk, *_clicked(body, action))

    @app.action(_action("ticket_decline"))
    @guarded
    def ticket_decline(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        change = ownership.decline_ticket(services.desk, *_clicked(body, action))
        respond(
            replace_original=False,
            text=f":shield: You declined {change.ticket.key}. It went to someone else "
            "and doesn't count towards your day.",
        )

    @app.action(_action("ticket_reassign"))
    @guarded
    def ticket_reassign(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = ownership.reassign_modal(services.desk, *_clicked(body, action))
        client.views_open(trigger_id=body["trigger_id"], view=view)


def _clicked(body: dict[str, Any], action: dict[str, Any]) -> tuple[str, str]:
    """(ticket key, user) of an ownership button; one without a key is stale or forged."""
    key = action.get("value")
    if not isinstance(key, str) or not key:
        raise NotFound("That button doesn't point at a ticket.")
    return key, body["user"]["id"]


# -- resolution and follow-ups (card, App Home, reminder DMs) --------------------------
# App Home lists many tickets, so its action_ids carry a suffix (``ticket_resolve:12``);
# the value is the ticket key, or the follow-up id.


def _action(name: str) -> re.Pattern[str]:
    return re.compile(rf"^{name}(:\d+)?$")


def _register_resolution(app: App, services: Services) -> None:
    @app.action(_action("ticket_resolve"))
    @guarded
    def ticket_resolve(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = resolution.resolve_modal(services.desk, action["value"], actor=body["user"]["id"])
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(_action("ticket_ask_reporter"))
    @guarded
    def ticket_ask_reporter(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = resolution.ask_modal(services.desk, action["value"], actor=body["user"]["id"])
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(_action("ticket_resume"))
    @guarded
    def ticket_resume(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        resolution.resume(services.desk, action["value"], actor=body["user"]["id"])

    @app.action("reporter_answer")  # in the reporter's ask DM
    @guarded
    def reporter_answer(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = resolution.answer_modal(services.desk, action["value"], actor=body["user"]["id"])
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(_action("ticket_reopen"))
    @guarded
    def ticket_reopen(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = resolution.reopen_modal(services.desk, action["value"], actor=body["user"]["id"])
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(_action("followup_add"))
    @guarded
    def followup_add(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = resolution.followup_modal(services.desk, action["value"], actor=body["user"]["id"])
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(_action("followup_done"))
    @guarded
    def followup_done(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        user = body["user"]["id"]
        view = resolution.followup_done(services.desk, int(action["value"]), actor=user)
        if body.get("container", {}).get("type") == "message":  # the reminder DM
            respond(replace_original=True, **view)

    @app.action(_action("followup_snooze"))
    @guarded
    def followup_snooze(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        user = body["user"]["id"]
        view = resolution.followup_snooze(services.desk, int(action["value"]), actor=user)
        if body.get("container", {}).get("type") == "message":
            respond(replace_original=True, **view)


# -- a follow request's buttons (the owner's DM) ----------------------------------------


def _register_following(app: App, services: Services) -> None:
    def answer(
        body: dict[str, Any], action: dict[str, Any], respond: Respond, approve: bool
    ) -> None:
        user = body["user"]["id"]
        view = following.answer(services.desk, action.get("value"), actor=user, approve=approve)
        respond(replace_original=True, **view)

    @app.action(following.APPROVE)
    @guarded
    def follow_approve(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        answer(body, action, respond, approve=True)

    @app.action(following.DECLINE)
    @guarded
    def follow_decline(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        answer(body, action, respond, approve=False)
