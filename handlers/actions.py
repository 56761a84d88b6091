"""Buttons on the ticket card (block actions); one small listener per action_id.
(Also the owner DM's "Decline — at my exposure cap".)

Each button's ``value`` is the ticket key. The listener acks first, then the
domain does the work; a refusal or a stale click comes back as an ephemeral
explanation through the handler boundary, and the card changes only through
the outbox.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.core.errors import NotFound
from bot.intake import following
from bot.resolution import entry as resolution
from bot.routing import ownership, severity
from bot.services import Services
from bot.slack import cards
from handlers.boundary import guarded


def register(app: App, services: Services) -> None:
    menu: Menu = {}
    _register_resolution(app, services, menu)
    _register_following(app, services)

    def ack_ticket(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ownership.acknowledge_ticket(services.desk, *_clicked(body, action))

    def take(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
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

    def reassign(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        view = ownership.reassign_modal(services.desk, *_clicked(body, action))
        client.views_open(trigger_id=body["trigger_id"], view=view)

    for name, run in (
        ("ticket_ack", ack_ticket),
        ("ticket_take", take),
        ("ticket_reassign", reassign),
    ):
        app.action(_action(name))(_listener(run))
        menu[name] = run

    @app.action(cards.OVERFLOW)
    @guarded
    def ticket_more(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        """The card's overflow menu: each option's value is "<action_id> <key>". Take, which
        moves a ticket from its owner, asks first (a menu option has no confirm dialog)."""
        ack()
        name, _, key = str(action.get("selected_option", {}).get("value", "")).partition(" ")
        run = menu.get(name)
        if run is None or not key:
            raise NotFound("That menu item doesn't point at a ticket.")
        if name == "ticket_take":
            respond(replace_original=False, **services.renderer.render("take_confirm", key=key))
            return
        run(body, {"value": key}, client)


#: What the card's overflow menu may run: a card button's action_id → what it does.
Menu = dict[str, Callable[[dict[str, Any], dict[str, Any], WebClient], None]]


def _listener(
    run: Callable[[dict[str, Any], dict[str, Any], WebClient], None],
) -> Callable[..., None]:
    @guarded
    def listener(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        run(body, action, client)

    listener.__name__ = run.__name__
    return listener


def _clicked(body: dict[str, Any], action: dict[str, Any]) -> tuple[str, str]:
    """(ticket key, user) of an ownership button; one without a key is stale or forged."""
    key = action.get("value")
    if not isinstance(key, str) or not key:
        raise NotFound("That button doesn't point at a ticket.")
    return key, body["user"]["id"]


# -- resolution and follow-ups (card, App Home, reminder DMs) --------------------------
# App Home and DMs list many tickets, so their action_ids carry a suffix (``ticket_resolve:12``);
# the value is the ticket key, or the follow-up id.


def _action(name: str) -> re.Pattern[str]:
    return re.compile(rf"^{name}(:\w+)?$")


def _register_resolution(app: App, services: Services, menu: Menu) -> None:
    def opener(
        modal: Callable[..., dict[str, Any]],
    ) -> Callable[[dict[str, Any], dict[str, Any], WebClient], None]:
        def run(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
            view = modal(services.desk, action["value"], actor=body["user"]["id"])
            client.views_open(trigger_id=body["trigger_id"], view=view)

        run.__name__ = modal.__name__
        return run

    for name, modal in (
        ("ticket_resolve", resolution.resolve_modal),
        ("ticket_ask_reporter", resolution.ask_modal),
        ("ticket_reopen", resolution.reopen_modal),
        ("ticket_severity", severity.modal),
        ("followup_add", resolution.followup_modal),
    ):
        menu[name] = opener(modal)
        app.action(_action(name))(_listener(menu[name]))

    def resume(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        resolution.resume(services.desk, action["value"], actor=body["user"]["id"])

    menu["ticket_resume"] = resume
    app.action(_action("ticket_resume"))(_listener(resume))

    @app.action("reporter_answer")  # in the reporter's ask DM
    @guarded
    def reporter_answer(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = resolution.answer_modal(services.desk, action["value"], actor=body["user"]["id"])
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
