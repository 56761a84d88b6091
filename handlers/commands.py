"""``/escalate`` and its subcommands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond

from bot.intake import draft_from_text, open_ticket
from handlers.boundary import guarded
from storage.db import transaction

if TYPE_CHECKING:
    from bot.app import Services

COMMAND = "/escalate"


def register(app: App, services: Services) -> None:
    cfg, render = services.config, services.renderer.render

    @app.command(COMMAND)
    @guarded
    def escalate(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        text = command.get("text", "").strip()
        if not text or text.lower() == "help":
            respond(**render("help", command=COMMAND))
            return
        draft = draft_from_text(cfg, text, source_channel=command.get("channel_id"))
        with transaction(services.sessions) as session:
            ticket = open_ticket(
                session, cfg, draft, reporter=command["user_id"], now=services.clock.now()
            )
        services.outbox.notify()
        area = cfg.policy_areas[ticket.policy_area].title
        respond(**render("reporter_ack", t=ticket, area_title=area, owner="unassigned"))
