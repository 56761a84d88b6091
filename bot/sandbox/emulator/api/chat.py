"""Web API ``chat.*``: the bot posts, edits and deletes messages, and links to them.

Why these rules: chat.postMessage is where apps meet most of Slack's refusals (membership,
``chat:write.public``, archived channels, Block Kit limits, the per-channel rate), so each is
checked here in Slack's order before anything is stored.
"""

from __future__ import annotations

import copy
from typing import Any

from bot.sandbox.emulator.endpoints import Endpoints
from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.rules import access
from bot.sandbox.emulator.rules.blockkit import check_content, with_ids
from bot.sandbox.emulator.workspace import Workspace


def post_message(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = access.postable(ws, args.get("channel"), public_without_joining=True)
    check_content(args, need_text=True)
    ws.limits.take_channel(channel)
    msg = ws.bot_posts(channel, args)
    return {"channel": channel, "ts": msg.ts, "message": msg.to_slack()}


def post_ephemeral(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Both the bot and the person must be in the channel: ``not_in_channel``,
    ``user_not_in_channel`` (https://docs.slack.dev/reference/methods/chat.postEphemeral);
    ``chat:write.public`` does not reach ephemerals. A command's or action's response_url
    is what answers in a channel the bot is not in."""
    lenient = ws.lenient.no_ephemeral_membership
    if lenient:
        channel = access.visible(ws, args.get("channel"))[0]
    else:
        channel = access.postable(ws, args.get("channel"), public_without_joining=False)
    if not args.get("user"):
        raise SlackError("user_not_found")
    if not lenient and not access.person_in(ws, channel, str(args["user"])):
        raise SlackError("user_not_in_channel")
    check_content(args, need_text=True)
    msg = ws.bot_posts(channel, args, ephemeral_to=args["user"])
    return {"message_ts": msg.ts}


def update(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    msg = access.find_message(ws, args)
    if msg.user != ws.bot_user_id:
        raise SlackError("cant_update_message")
    check_content(args, need_text=False)
    for key in ("text", "blocks", "attachments", "metadata"):
        if key in args:  # like Slack, what is left out is kept
            setattr(msg, key, copy.deepcopy(args[key]))
    msg.blocks = with_ids(msg.blocks)
    msg.edited_ts = ws.next_ts()
    return {"channel": msg.channel, "ts": msg.ts, "text": msg.text, "message": msg.to_slack()}


def delete(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    msg = access.find_message(ws, args)
    if msg.user != ws.bot_user_id:
        raise SlackError("cant_delete_message")
    ws.remove_message(msg)
    return {"channel": msg.channel, "ts": msg.ts}


def get_permalink(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Lenient about unknown ts: a real workspace holds messages this fake never saw."""
    channel = access.visible(ws, args.get("channel"))[0]
    if not args.get("message_ts"):
        raise SlackError("message_not_found")
    return {"channel": channel, "permalink": permalink(ws, channel, str(args["message_ts"]))}


def permalink(ws: Workspace, channel: str, ts: str) -> str:
    link = f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}"
    msg = ws.by_ts.get((channel, ts))
    if msg is not None and msg.is_reply:
        link += f"?thread_ts={msg.thread_ts}&cid={channel}"
    return link


def register(endpoints: Endpoints) -> None:
    endpoints.method("chat.postMessage", post_message)
    endpoints.method("chat.postEphemeral", post_ephemeral)
    endpoints.method("chat.update", update)
    endpoints.method("chat.delete", delete)
    endpoints.method("chat.getPermalink", get_permalink)
