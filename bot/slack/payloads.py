"""The shape a Slack payload must have before Bolt touches it.

Bolt indexes payloads directly (``body["view"]["type"]``, ``body["actions"][0]``…)
while building listener arguments, so a signed but malformed body would end
as a 500 deep inside it. Checked first, such a body is the sender's error: 400.
Nesting is bounded before any JSON parser runs (``json.loads`` and every
recursive walk after it raise ``RecursionError`` on a few thousand levels).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

MAX_DEPTH = 64  # Slack's deepest payloads (rich text in a message in a view) nest about 15

_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)  # possessive: linear on any input
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def too_deep(text: str) -> bool:
    """Whether the JSON in ``text`` (a JSON body, or a form's ``payload`` field) nests
    deeper than ``MAX_DEPTH``; brackets inside JSON strings don't count."""
    candidates = [text]
    if "payload" in text:  # a form body: its JSON is percent-encoded in a field
        candidates += [value for _, value in parse_qsl(text, keep_blank_values=True)]
    return any(_depth_over(candidate, MAX_DEPTH) for candidate in candidates)


def _depth_over(text: str, limit: int) -> bool:
    depth = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if char in "[{" else -1
        if depth > limit:
            return True
    return False


_OBJECT_FIELDS = ("user", "team", "channel", "container", "enterprise", "message", "view", "state")


def malformed(body: object) -> str | None:
    """Why ``body`` can't be a Slack request, or None when it has the shape Slack sends."""
    if not isinstance(body, dict):
        return "payload is not an object"
    if _has_nul(body):  # Slack never sends NUL; PostgreSQL refuses it in text
        return "NUL character"
    for key in _OBJECT_FIELDS:
        if key in body and not isinstance(body[key], dict | None) and key != "channel":
            return f"{key} is not an object"
    if "channel" in body and not isinstance(body["channel"], dict | str | None):
        return "channel has the wrong type"
    if "command" in body:
        return _command(body)
    kind = body.get("type")
    if not isinstance(kind, str):
        return "no payload type"
    check = _CHECKS.get(kind)
    if check is None:
        return f"unsupported payload type {kind[:40]!r}"
    return check(body)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _command(body: dict[str, Any]) -> str | None:
    fields = ("command", "text", "user_id", "channel_id", "trigger_id")
    bad = [f for f in fields if f in body and not isinstance(body[f], str)]
    return f"command field {bad[0]} is not text" if bad else None


def _actions(body: dict[str, Any]) -> str | None:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        return "block_actions without actions"
    for action in actions:
        if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
            return "action without action_id"
        if not isinstance(action.get("block_id", ""), str):
            return "action block_id is not text"
    return None


def _view(body: dict[str, Any]) -> str | None:
    view = body.get("view")
    if not isinstance(view, dict):
        return "no view"
    for key in ("callback_id", "type"):
        if not isinstance(view.get(key), str):
            return f"view {key} is not text"
    state = view.get("state", {})
    if not isinstance(state, dict) or not isinstance(state.get("values", {}), dict):
        return "view state is not an object"
    if not all(isinstance(v, dict) for v in state.get("values", {}).values()):
        return "view state block is not an object"
    return None


def _shortcut(body: dict[str, Any]) -> str | None:
    return None if isinstance(body.get("callback_id"), str) else "shortcut without callback_id"


def _event(body: dict[str, Any]) -> str | None:
    event = body.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return "event without type"
    for key in ("message", "previous_message", "item", "view"):
        if key in event and not isinstance(event[key], dict | None):
            return f"event {key} is not an object"
    return None


_CHECKS = {
    "block_actions": _actions,
    "view_submission": _view,
    "view_closed": _view,
    "shortcut": _shortcut,
    "message_action": _shortcut,
    "event_callback": _event,
    "url_verification": lambda b: None if isinstance(b.get("challenge"), str) else "no challenge",
    "block_suggestion": lambda b: None if isinstance(b.get("action_id"), str) else "no action_id",
}
