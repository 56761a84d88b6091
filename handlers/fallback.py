"""Catch-alls, registered last: whatever no other listener took is still answered.

Bolt answers 404 to a request no listener matches, and Slack retries events it
thinks failed; a click on a button from an older version of escbot deserves an
explanation rather than a silent spinner.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App

from bot.services import Services
from handlers.boundary import guarded, tell

log = logging.getLogger(__name__)
ANY = re.compile(".*")


def register(app: App, services: Services) -> None:
    @app.event(ANY)
    @guarded
    def any_event(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        log.debug("ignored event %s", (body.get("event") or {}).get("type"))

    @app.action(ANY)
    @guarded
    def any_action(ack: Ack, body: dict[str, Any], client: Any, respond: Any) -> None:
        ack()
        action = (body.get("actions") or [{}])[0].get("action_id", "?")
        log.warning("no listener for action %r", action)
        tell(
            body,
            client,
            respond,
            "That button no longer does anything here. Use `/escalate help` to see what does.",
        )

    @app.view(ANY)
    @guarded
    def any_view(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        log.warning("no listener for view %r", (body.get("view") or {}).get("callback_id"))

    @app.shortcut(ANY)
    @guarded
    def any_shortcut(ack: Ack, body: dict[str, Any], client: Any, respond: Any) -> None:
        ack()
        tell(
            body,
            client,
            respond,
            "That shortcut isn't something escbot knows. Try `/escalate help`.",
        )
