"""The response_url endpoint: what an app posts to a command's or action's response_url.

Why: Slack shows such a post as an ephemeral to the person, in the channel, or as a
replacement (or deletion) of the message whose button was clicked; the fake applies it
the same way so tests see what the person would. Slack answers with a plain ``ok``.
"""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from typing import Any

from bot.sandbox.emulator.endpoints import Endpoints, Route
from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.model import ResponseUrl
from bot.sandbox.emulator.request_parsing import HttpRequest, flag, parse_body
from bot.sandbox.emulator.rules.blockkit import with_ids
from bot.sandbox.emulator.workspace import Workspace

PREFIX = "/response/"
#: "You can use a response_url up to 5 times within 30 minutes"
#: (https://docs.slack.dev/interactivity/handling-user-interaction#message_responses).
LIFETIME, USES = timedelta(minutes=30), 5


def new_response_url(
    ws: Workspace, user_id: str | None, channel_id: str | None, message_ts: str | None
) -> str:
    """A response_url served by the fake; what is posted to it lands in its context."""
    rid = uuid.uuid4().hex
    ws.response_urls[rid] = ResponseUrl(user_id, channel_id, message_ts, issued=ws.now())
    ws.person_in(channel_id, user_id)  # the gesture was made there
    return f"{ws.base}{PREFIX}{rid}"


def respond(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Apply a response_url post the way Slack shows it: replace/delete/in_channel/ephemeral."""
    ctx = _usable(ws, args["response_id"])
    channel, user, ts = ctx.channel, ctx.user, ctx.message_ts
    original = ws.by_ts.get((channel, ts)) if channel and ts else None
    if flag(args.get("delete_original")) and original is not None:
        ws.remove_message(original)
    elif flag(args.get("replace_original")) and original is not None:
        for key in ("text", "blocks", "attachments"):
            if key in args:
                setattr(original, key, copy.deepcopy(args[key]))
        original.blocks = with_ids(original.blocks)
        original.edited_ts = ws.next_ts()
    elif args.get("response_type") == "in_channel" and channel:
        ws.bot_posts(channel, args)
    else:
        ws.bot_posts(channel or "", args, ephemeral_to=user or "")
    return {}


def _usable(ws: Workspace, response_id: str) -> ResponseUrl:
    """The response_url's context, one use spent; HTTP 404 ``expired_url`` for one unknown,
    older than 30 minutes or used 5 times already."""
    ctx = ws.response_urls.get(response_id)
    if ws.lenient.no_response_url_limits:
        return ctx or ResponseUrl()
    if ctx is None or ctx.uses >= USES or (ctx.issued and ws.now() - ctx.issued > LIFETIME):
        raise SlackError("expired_url", status=404)
    ctx.uses += 1
    return ctx


def _args(tail: str, request: HttpRequest) -> dict[str, Any]:
    try:
        args = parse_body(request.content_type, request.body, "")
    except ValueError:
        args = {"raw": request.body.decode("utf-8", "replace")}
    args["response_id"] = tail
    return args


def register(endpoints: Endpoints) -> None:
    endpoints.route(PREFIX, Route("response_url", _args, respond, ok_body=b"ok"))
