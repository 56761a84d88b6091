"""Global middleware: request ids, the workspace check, and Events API retries.

Runs before any listener. A retried event (``X-Slack-Retry-Num``) whose first
delivery we already took is acknowledged and dropped, so no listener runs
twice for one event, also across replicas (the claim is a primary key).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

from bot.core.logs import request_id_var
from bot.services import Services
from storage.queries import claim_once

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    expected_team = services.config.workspace.team_id

    @app.middleware
    def request_id(context: Any, next: Any) -> Any:
        context["request_id"] = rid = uuid.uuid4().hex[:12]
        token = request_id_var.set(rid)
        try:
            return next()
        finally:
            request_id_var.reset(token)

    @app.middleware
    def same_workspace(body: dict[str, Any], next: Any) -> Any:
        team = body.get("team_id") or (body.get("team") or {}).get("id")
        if expected_team and team and team != expected_team:
            log.warning("refused a request from workspace %s", team)
            return BoltResponse(
                status=200, body="escbot serves another workspace; nothing was done."
            )
        return next()

    @app.middleware
    def events_once(req: BoltRequest, body: dict[str, Any], next: Any) -> Any:
        event_id = body.get("event_id")
        if body.get("type") != "event_callback" or not event_id:
            return next()
        if not claim_once(services.sessions, f"event:{event_id}", services.clock.now()):
            retry = req.headers.get("x-slack-retry-num", ["?"])[0]
            log.info("event %s already handled; retry %s dropped", event_id, retry)
            return BoltResponse(status=200, body="")
        return next()
