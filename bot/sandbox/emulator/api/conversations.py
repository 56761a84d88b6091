"""Web API ``conversations.*``: opening DMs, joining channels, reading info, history, threads.

Why here together: these are the calls whose answers depend on the conversation's kind and
the bot's membership (``rules.access``), and they share Slack's cursor paging.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from bot.sandbox.emulator.endpoints import Endpoints
from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.model import Channel, Message
from bot.sandbox.emulator.request_parsing import flag, user_ids
from bot.sandbox.emulator.rules import access
from bot.sandbox.emulator.workspace import Workspace


def open_(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    ids = user_ids(args)
    if not ids:
        raise SlackError("users_list_not_supplied")
    if len(ids) == 1:
        cid = ws.dm_channel(ids[0])
    else:
        cid = "G" + uuid.uuid5(uuid.NAMESPACE_OID, ",".join(sorted(ids))).hex[:10].upper()
        name = "mpdm-" + "--".join(sorted(ids))
        mpim = Channel(name, is_private=True, is_member=True, is_mpim=True)
        ws.channels.setdefault(cid, mpim)
    return {"channel": {"id": cid}, "no_op": True, "already_open": True}


def join(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    """Public channels only; a private one needs a person's invitation."""
    cid, kind = ws.conversation(args.get("channel"))
    if kind != "public":
        raise SlackError("method_not_supported_for_channel_type")
    info = ws.channels[cid]
    if info.is_archived:
        raise SlackError("is_archived")
    already, info.is_member = info.is_member, True
    warning = {"warning": "already_in_channel"} if already else {}
    return {"channel": channel_info(ws, cid), **warning}


def info(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    return {"channel": channel_info(ws, access.visible(ws, args.get("channel"))[0])}


def history(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = access.readable(ws, args.get("channel"))[0]
    msgs = [m for m in ws.messages.get(channel, []) if not m.is_reply or m.reply_broadcast]
    oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or math.inf)
    inclusive = bool(flag(args.get("inclusive")))
    msgs = [
        m
        for m in msgs
        if (oldest <= float(m.ts) <= latest if inclusive else oldest < float(m.ts) < latest)
    ]
    return _page(list(reversed(msgs)), args)


def replies(ws: Workspace, args: dict[str, Any]) -> dict[str, Any]:
    channel = access.readable(ws, args.get("channel"))[0]
    ts = str(args.get("ts"))
    parent = ws.by_ts.get((channel, ts))
    found = [m for m in ws.messages.get(channel, []) if m.is_reply and m.thread_ts == ts]
    if parent is None and not found:
        raise SlackError("thread_not_found")
    return _page(([parent] if parent else []) + found, args)


def channel_info(ws: Workspace, channel: str) -> dict[str, Any]:
    """The conversation object Slack returns, membership told truthfully."""
    info = ws.channels.get(channel)
    if info is None:  # the bot's DM with a user
        im_user = next((u for u in ws.users if ws.dm_channel(u) == channel), None)
        return {
            "id": channel,
            "is_im": True,
            "is_private": True,
            "is_member": True,
            "is_archived": False,
            "user": im_user,
            "created": 1_600_000_000,
        }
    return {
        "id": channel,
        "name": info.name,
        "is_channel": not info.is_mpim,
        "is_group": False,
        "is_im": False,
        "is_mpim": info.is_mpim,
        "is_private": info.is_private,
        "is_member": info.is_member,
        "is_archived": info.is_archived,
        "created": 1_600_000_000,
    }


def _page(items: list[Message], args: dict[str, Any]) -> dict[str, Any]:
    limit = int(args.get("limit") or 100)
    start = int(args.get("cursor") or 0)
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return {
        "messages": [m.to_slack() for m in chunk],
        "has_more": more,
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }


def register(endpoints: Endpoints) -> None:
    endpoints.method("conversations.open", open_)
    endpoints.method("conversations.join", join)
    endpoints.method("conversations.info", info)
    endpoints.method("conversations.history", history)
    endpoints.method("conversations.replies", replies)
