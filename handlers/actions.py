"""Buttons on the ticket card (block actions); one small listener per action_id.

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
from bot.resolution import followups
from bot.resolution import service as resolution
from bot.routing import ownership
from bot.services import Services
from bot.tickets.lifecycle import Action, Status, target
from handlers.boundary import guarded
from storage.db import transaction
from storage.models import Ticket
from storage.queries import ticket_by_key


def register(app: App, services: Services) -> None:
    cfg, renderer = services.config, services.renderer
    _register_resolution(app, services)

    @app.action(_action("ticket_ack"))
    @guarded
    def ticket_ack(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        (key, user), now = _clicked(body, action), services.clock.now()
        ownership.run(
            services.sessions,
            key,
            lambda s: ownership.acknowledge(s, cfg, renderer, key, actor=user, now=now),
            actor=user,
            now=now,
        )

    @app.action(_action("ticket_take"))
    @guarded
    def ticket_take(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        (key, user), now = _clicked(body, action), services.clock.now()
        ownership.run(
            services.sessions,
            key,
            lambda s: ownership.take(s, cfg, renderer, key, actor=user, now=now),
            actor=user,
            now=now,
        )

    @app.action(_action("ticket_reassign"))
    @guarded
    def ticket_reassign(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        (key, user), now = _clicked(body, action), services.clock.now()
        choices = ownership.run(
            services.sessions,
            key,
            lambda s: ownership.reassign_choices(s, cfg, key, actor=user, now=now),
            actor=user,
            now=now,
        )
        client.views_open(
            trigger_id=body["trigger_id"], view=renderer.render("reassign_modal", **choices)
        )


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
    cfg, renderer = services.config, services.renderer

    def ticket(action: dict[str, Any]) -> Ticket:
        with services.sessions() as session:
            found = ticket_by_key(session, action["value"])
        if found is None:
            raise NotFound(f"{action['value']} no longer exists.")
        return found

    @app.action(_action("ticket_resolve"))
    @guarded
    def ticket_resolve(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        t = ticket(action)
        resolution.require_pod(cfg, body["user"]["id"], "resolve tickets")
        target(Action.RESOLVE, Status(t.status))
        client.views_open(
            trigger_id=body["trigger_id"], view=resolution.resolve_form(renderer, cfg, t)
        )

    @app.action(_action("ticket_ask_reporter"))
    @guarded
    def ticket_ask_reporter(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        t = ticket(action)
        resolution.require_pod(cfg, body["user"]["id"], "ask the reporter")
        target(Action.WAIT, Status(t.status))
        client.views_open(trigger_id=body["trigger_id"], view=resolution.ask_form(renderer, t))

    @app.action(_action("ticket_reopen"))
    @guarded
    def ticket_reopen(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        t = ticket(action)
        resolution.check_reopen(cfg, renderer, t, body["user"]["id"], services.clock.now())
        client.views_open(
            trigger_id=body["trigger_id"], view=resolution.reopen_form(renderer, cfg, t)
        )

    @app.action(_action("followup_add"))
    @guarded
    def followup_add(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        t, user = ticket(action), body["user"]["id"]
        resolution.require_pod(cfg, user, "add follow-ups")
        view = followups.form(renderer, cfg, t, user, services.clock.now())
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(_action("followup_done"))
    @guarded
    def followup_done(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        user, now = body["user"]["id"], services.clock.now()
        with transaction(services.sessions) as session:
            fu = followups.done(session, cfg, renderer, int(action["value"]), actor=user, now=now)
            shown = followups.message_context(cfg, fu, session.get_one(Ticket, fu.ticket_id), now)
        if body.get("container", {}).get("type") == "message":  # the reminder DM
            view = renderer.render(
                "followup_message", **shown, kind="done", audience="dm", actor=user
            )
            respond(replace_original=True, **view)

    @app.action(_action("followup_snooze"))
    @guarded
    def followup_snooze(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        user, now = body["user"]["id"], services.clock.now()
        with transaction(services.sessions) as session:
            fu = followups.snooze(session, cfg, int(action["value"]), actor=user, now=now)
            shown = followups.message_context(cfg, fu, session.get_one(Ticket, fu.ticket_id), now)
        if body.get("container", {}).get("type") == "message":
            view = renderer.render(
                "followup_message", **shown, kind="snoozed", audience="dm", actor=user
            )
            respond(replace_original=True, **view)
