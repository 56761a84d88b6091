"""Web API ``views.*``: modals opened, pushed and updated, App Home published; trigger_ids.

Why here: a view is stored as Slack returns it (ids, hash, root/previous view), whose view
it is follows from the trigger_id that opened it, and the same store serves the ack of a
view submission (``response_action`` update/push), so all of it lives in one module.
"""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

from bot.sandbox.emulator.endpoints import Endpoints
from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.model import Trigger
from bot.sandbox.emulator.rules.blockkit import check_view, with_ids
from bot.sandbox.emulator.workspace import Workspace


def open_(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    user = consume_trigger(ws, args)
    return {"view": store_view(ws, args.get("view"), user=user)}


#: "After a modal is opened, the app is limited to pushing 2 additional views"
#: (https://docs.slack.dev/reference/methods/views.push): 3 in a stack.
STACK_LIMIT = 3


def push(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    user = consume_trigger(ws, args)
    previous = ws.last_view.get(user) if user else None
    if not ws.lenient.no_view_stack_limit and stack_depth(ws, previous) >= STACK_LIMIT:
        raise SlackError("push_limit_reached")
    return {"view": store_view(ws, args.get("view"), user=user, previous=previous)}


def stack_depth(ws: Workspace, view_id: str | None) -> int:
    """How many views the stack topped by ``view_id`` holds (0: none)."""
    depth = 0
    while view_id and view_id in ws.views and depth <= STACK_LIMIT:
        depth += 1
        view_id = ws.views[view_id]["previous_view_id"]
    return depth


def update(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    view = _existing_view(ws, args)
    kind = "home" if view["type"] == "home" else "modal"
    return {"view": store_view(ws, args.get("view"), user=None, kind=kind, existing=view)}


def publish(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    user = args.get("user_id")
    if not user:
        raise SlackError("invalid_arguments")
    current = ws.views.get(ws.home.get(user, ""))
    if current and args.get("hash") and args["hash"] != current["hash"]:
        raise SlackError("hash_conflict")
    view = store_view(ws, args.get("view"), user=user, kind="home", existing=current)
    ws.home[user] = view["id"]
    return {"view": view}


def register_trigger(ws: Workspace, trigger_id: str, user_id: str) -> None:
    """Remember whose gesture ``trigger_id`` came from, and when."""
    ws.triggers[trigger_id] = Trigger(user_id, time.monotonic())


def consume_trigger(ws: Workspace, args: dict[str, Any]) -> str | None:
    """The user whose trigger_id ``args`` carry (None for one the fake never issued).

    With ``trigger_ttl`` set, a trigger_id works once and only that many seconds.
    """
    tid = args.get("trigger_id")
    if not tid:
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
        )
    trigger = ws.triggers.get(tid)
    if trigger is None:
        return None
    if ws.trigger_ttl is not None:
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() - trigger.issued > ws.trigger_ttl:
            raise SlackError("expired_trigger_id")
    trigger.used = True
    return trigger.user


def accept_view_response(
    ws: Workspace, user_id: str, view_id: str, response: dict[str, Any]
) -> None:
    """Apply a view_submission ack's ``response_action`` update/push, as Slack's client does."""
    action, spec = response.get("response_action"), response.get("view")
    if action not in ("update", "push") or not isinstance(spec, dict):
        return
    if action == "update" and view_id in ws.views:
        store_view(ws, spec, user=user_id, existing=ws.views[view_id])
    elif stack_depth(ws, view_id) >= STACK_LIMIT and not ws.lenient.no_view_stack_limit:
        return  # Slack's client shows an error and keeps the modal as it was
    else:
        store_view(ws, spec, user=user_id, previous=view_id)


def store_view(
    ws: Workspace,
    spec: Any,
    *,
    user: str | None,
    kind: str = "modal",
    existing: dict[str, Any] | None = None,
    previous: str | None = None,
) -> dict[str, Any]:
    """Validate a view spec and store it as the view object Slack would return."""
    spec = check_view(spec, kind)
    vid = existing["id"] if existing else ws.new_id("V")
    root = existing["root_view_id"] if existing else vid
    if previous and previous in ws.views:
        root = ws.views[previous]["root_view_id"]
    view = {
        "id": vid,
        "team_id": ws.team_id,
        "type": spec["type"],
        "blocks": with_ids(copy.deepcopy(spec.get("blocks", []))),
        "private_metadata": spec.get("private_metadata", ""),
        "callback_id": spec.get("callback_id", ""),
        "state": {"values": {}},
        "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
        "title": spec.get("title"),
        "close": spec.get("close"),
        "submit": spec.get("submit"),
        "clear_on_close": bool(spec.get("clear_on_close", False)),
        "notify_on_close": bool(spec.get("notify_on_close", False)),
        "previous_view_id": previous,
        "root_view_id": root,
        "app_id": ws.app_id,
        "external_id": spec.get("external_id", ""),
        "app_installed_team_id": ws.team_id,
        "bot_id": ws.bot_id,
    }
    ws.views[vid] = view
    owner = user if user is not None else ws.view_owner.get(vid)
    ws.view_owner[vid] = owner
    if owner and kind == "modal":
        ws.last_view[owner] = vid
    return copy.deepcopy(view)


def _existing_view(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    vid, ext = args.get("view_id"), args.get("external_id")
    view = ws.views.get(vid) if vid else None
    if view is None and ext:
        view = next((v for v in ws.views.values() if v["external_id"] == ext), None)
    if view is None:
        raise SlackError("not_found")
    if args.get("hash") and args["hash"] != view["hash"]:
        raise SlackError("hash_conflict")
    return view


def register(endpoints: Endpoints) -> None:
    endpoints.method("views.open", open_)
    endpoints.method("views.push", push)
    endpoints.method("views.update", update)
    endpoints.method("views.publish", publish)
