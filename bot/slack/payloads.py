"""The shape a Slack payload must have before Bolt touches it.

Bolt indexes payloads directly (``body["view"]["type"]``, ``body["actions"][0]``…)
while building listener arguments, so a signed but malformed body would end
as a 500 deep inside it. Checked first, such a body is the sender's error: 400.

Nesting is bounded on the parsed body, by one iterative walk that also looks for
NUL: the JSON parser itself stops at Python's recursion limit with a
``RecursionError`` (the caller's 400), and what it accepts deeper than
``MAX_DEPTH`` is refused here before any recursive code sees it. (The body used
to be scanned as text before parsing: that parsed a form twice and cost more
than Bolt's whole parse, 0.46 ms of a 15 KB submission.)
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 64  # Slack's deepest payloads (rich text in a message in a view) nest about 15


_OBJECT_FIELDS = ("user", "team", "channel", "container", "enterprise", "message", "view", "state")


def malformed(body: object) -> str | None:
    """Why ``body`` can't be a Slack request, or None when it has the shape Slack sends."""
    if not isinstance(body, dict):
        return "payload is not an object"
    if problem := _walk(body):
        return problem
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


def _walk(body: dict[str, Any]) -> str | None:
    """Why the body can't be taken: nested deeper than ``MAX_DEPTH``, or a NUL (Slack never
    sends NUL, and PostgreSQL refuses it in text); iterative, so any depth is safe to walk."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                return "nested too deep"
            for key, item in value.items():
                if "\x00" in key:
                    return "NUL character"
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                return "nested too deep"
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and "\x00" in value:
            return "NUL character"
    return None


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
