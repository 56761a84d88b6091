"""Global middleware: request ids, the workspace check, Events API retries, replays.

Runs before any listener. A retried event (``X-Slack-Retry-Num``) whose first
delivery we already took is acknowledged and dropped, so no listener runs
twice for one event, also across replicas (the claim is a primary key). A
block action is taken once per (user, action_ts, action_id, container): a
captured click replayed within the signature's five minutes is logged and
dropped the same way. A real second click has its own ``action_ts``.
"""

from __future__ import annotations

import hashlib
import json
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
        if expected_team and team != expected_team:  # no team at all is no proof either
            log.warning("refused a request from workspace %.40r", team)
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

    @app.middleware
    def actions_once(body: dict[str, Any], next: Any) -> Any:
        if body.get("type") != "block_actions":
            return next()
        key = _action_key(body)
        if not claim_once(services.sessions, key, services.clock.now()):
            user = (body.get("user") or {}).get("id")
            log.warning("replayed block action dropped: %s by %.40r", key, user)
            return BoltResponse(status=200, body="")
        return next()


def _action_key(body: dict[str, Any]) -> str:
    """``action:`` and a digest of (user, action_ts, action_id, container): action ids run
    to 255 characters and containers are objects, so the claim's key is their hash."""
    actions = [a for a in body.get("actions") or () if isinstance(a, dict)]
    parts = [
        (body.get("user") or {}).get("id"),
        [a.get("action_ts") for a in actions],
        [a.get("action_id") for a in actions],
        body.get("container"),
    ]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return f"action:{digest[:40]}"
