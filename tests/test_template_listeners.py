"""Every button, menu and modal a template renders has a listener in the app.

A template that renders an ``action_id`` or a modal's ``callback_id`` no listener takes
would only reach the catch-alls in handlers/fallback.py: the click is answered with "no
longer does anything". The templates render through tests/test_templates.py's builders,
and the ids go through Bolt's own matchers, so regex listeners count as they do in Slack.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.config import AppConfig
from bot.settings import Settings
from tests.test_templates import HOSTILE, TEMPLATES, render_all

UNKNOWN = "no-such-id-in-any-template"
#: Ids only the test builders render: _card's button with hostile text, for Block Kit's limits.
BUILDERS_ONLY = {"long_button"}


def interactive_ids(payload: dict[str, Any]) -> Iterator[str]:
    """``action_id`` of every element whose use Slack sends as ``block_actions``: inputs in
    input blocks only report on submission, unless the block sets ``dispatch_action``."""
    for block in payload.get("blocks", []):
        if block.get("type") == "input":
            if block.get("dispatch_action"):
                yield block["element"]["action_id"]
            continue
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if "action_id" in element:
                yield element["action_id"]


def submitted_view(payload: dict[str, Any]) -> str | None:
    """The callback_id Slack sends a ``view_submission`` for (a modal with a submit button)."""
    return payload.get("callback_id") if payload.get("submit") else None


def block_actions(action_id: str) -> BoltRequest:
    action = {"type": "button", "action_id": action_id, "block_id": "b", "value": "v"}
    body = {"type": "block_actions", "user": {"id": "U0TEST"}, "actions": [action]}
    return BoltRequest(body=body, mode="socket_mode")


def view_submission(callback_id: str) -> BoltRequest:
    view = {"type": "modal", "callback_id": callback_id, "state": {"values": {}}}
    body = {"type": "view_submission", "user": {"id": "U0TEST"}, "view": view}
    return BoltRequest(body=body, mode="socket_mode")


def handled(app: App, request: BoltRequest, unknown: BoltRequest) -> bool:
    """Some listener takes ``request`` that does not also take a made-up id (a catch-all)."""
    resp = BoltResponse(status=200)
    return any(
        listener.matches(req=request, resp=resp) and not listener.matches(req=unknown, resp=resp)
        for listener in app._listeners
    )


def test_every_rendered_action_and_modal_has_a_listener(
    engine: Engine, sessions: sessionmaker[Session], config: AppConfig
) -> None:
    settings = Settings(
        bot_token="xoxb-test", signing_secret="s", api_url="http://127.0.0.1:9/api/"
    )
    app, _services = create_app(settings, config, engine, sessions)
    actions: dict[str, set[str]] = {}
    views: dict[str, set[str]] = {}
    for name in TEMPLATES:
        for payload in render_all(name, HOSTILE):
            for action_id in set(interactive_ids(payload)) - BUILDERS_ONLY:
                actions.setdefault(action_id, set()).add(name)
            if callback_id := submitted_view(payload):
                views.setdefault(callback_id, set()).add(name)
    assert actions and views  # the walk found the buttons and modals at all

    unhandled = [
        f"action_id {a!r} in {sorted(names)}"
        for a, names in sorted(actions.items())
        if not handled(app, block_actions(a), block_actions(UNKNOWN))
    ] + [
        f"callback_id {v!r} in {sorted(names)}"
        for v, names in sorted(views.items())
        if not handled(app, view_submission(v), view_submission(UNKNOWN))
    ]
    assert unhandled == [], "rendered but no listener takes it (see handlers/)"
