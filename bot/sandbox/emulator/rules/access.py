"""Who may do what: tokens, scopes, membership and visibility, as Slack decides them.

Why one module: Slack answers the same question ("may this token touch this conversation?")
for posting, reading, sharing files and delivering events, with errors that tell the cases
apart (``missing_scope``, ``not_in_channel``, ``channel_not_found``, ``is_archived``); the
decisions live here once, as functions over the workspace, and the API areas call them.

- the bot token's scopes come from :mod:`bot.slack.scopes` (by conversation kind where it
  differs) and every scope a call really needed is noted in ``used_scopes``;
- a private channel the bot is not in is invisible (``channel_not_found``), a public one
  answers ``not_in_channel`` to reads and to posts without ``chat:write.public``;
- a person's message reaches the app only from a channel it is in, or a DM with it.
"""

from __future__ import annotations

from typing import Any, Literal

from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.model import Message
from bot.sandbox.emulator.request_parsing import user_ids
from bot.sandbox.emulator.workspace import Workspace
from bot.slack import scopes as slack_scopes
from bot.slack.scopes import Kind

#: The token a method takes: the bot's (``xox…``) or the app-level one (``xapp-…``).
TokenKind = Literal["bot", "app"]


def check_token(ws: Workspace, kind: TokenKind, token: str | None) -> None:
    """``not_authed`` without a token, else whether it is the kind of token the method takes."""
    if not token:
        raise SlackError("not_authed")
    if kind == "bot":
        if not token.startswith("xox"):
            raise SlackError("invalid_auth")
        return
    if token.startswith("xox"):
        raise SlackError("not_allowed_token_type")
    scopes = ws.app_tokens.get(token)
    if scopes is None or ws.socket is None:
        raise SlackError("invalid_auth")
    if "connections:write" not in scopes:
        raise SlackError("missing_scope", needed="connections:write", provided=",".join(scopes))


def check_scope(ws: Workspace, method: str, args: dict[str, Any]) -> None:
    """``missing_scope`` with ``needed``/``provided`` unless the token has the method's."""
    entry = slack_scopes.METHOD_SCOPES.get(method)
    if entry is None or method in slack_scopes.APP_TOKEN_METHODS:
        return
    kind: Kind | None = None
    if isinstance(entry, dict):
        if method == "conversations.open":
            kind = "im" if len(user_ids(args)) == 1 else "mpim"
        else:
            kind = ws.conversation(args.get("channel"))[1]
    need(ws, slack_scopes.needed(method, kind))


def need(ws: Workspace, scope: str | None) -> None:
    """Refuse without ``scope``; note it as used with it."""
    if not scope:
        return
    if scope not in ws.scopes:
        provided = ",".join(sorted(ws.scopes))
        raise SlackError("missing_scope", needed=scope, provided=provided)
    ws.used_scopes.add(scope)


def is_member(ws: Workspace, channel_id: str) -> bool:
    """Whether the bot is in the conversation (always, for its DMs)."""
    if channel_id[:1] in ("D", "U", "W"):
        return True
    info = ws.channels.get(channel_id)
    return info is not None and info.is_member


def visible(ws: Workspace, channel: Any) -> tuple[str, Kind]:
    """A conversation the bot can see: public ones, its DMs, private ones it is in."""
    cid, kind = ws.conversation(channel)
    if kind in ("private", "mpim") and not ws.channels[cid].is_member:
        raise SlackError("channel_not_found")
    return cid, kind


def readable(ws: Workspace, channel: Any) -> tuple[str, Kind]:
    """A conversation the bot may read or share into: it must be a member.

    A private channel it is not in is invisible to it (``channel_not_found``); a public one
    answers ``not_in_channel``.
    """
    cid, kind = visible(ws, channel)
    if kind != "im" and not ws.channels[cid].is_member:
        raise SlackError("not_in_channel")
    return cid, kind


def postable(ws: Workspace, channel: Any, *, public_without_joining: bool) -> str:
    """Where the bot may post: archived → ``is_archived``; a public channel it is not in
    only with ``chat:write.public`` (chat.postMessage), else ``not_in_channel``."""
    cid, kind = visible(ws, channel)
    if kind == "im":
        return cid
    info = ws.channels[cid]
    if info.is_archived:
        raise SlackError("is_archived")
    if not info.is_member and public_without_joining:
        if slack_scopes.POST_WITHOUT_JOINING not in ws.scopes:
            raise SlackError("not_in_channel")
        ws.used_scopes.add(slack_scopes.POST_WITHOUT_JOINING)
    return cid


def find_message(ws: Workspace, args: dict[str, Any], ts_key: str = "ts") -> Message:
    """The message ``args`` name in a conversation the bot can see; ``message_not_found``."""
    channel = visible(ws, args.get("channel"))[0]
    msg = ws.by_ts.get((channel, str(args.get(ts_key))))
    if msg is None:
        raise SlackError("message_not_found")
    return msg


def message_event(ws: Workspace, channel_id: str) -> str | None:
    """The subscription a person's message in ``channel_id`` reaches the app by, or None.

    Slack delivers ``message.channels``/``message.groups`` (thread replies included) only from
    channels the bot is in, and ``message.im`` for DMs with it; the app must subscribe to the
    event and hold its scope (``channels:history``…).
    """
    try:
        cid, kind = ws.conversation(channel_id)
    except SlackError:
        return None
    event = slack_scopes.MESSAGE_EVENTS[kind]
    scope = slack_scopes.EVENT_SCOPES[event]
    if event not in ws.events or (scope and scope not in ws.scopes):
        return None
    if kind != "im" and not ws.channels[cid].is_member:
        return None
    if scope:
        ws.used_scopes.add(scope)
    return event


def delivers(ws: Workspace, event: str) -> bool:
    """Whether Slack sends the app ``event`` (not a message): it must subscribe to it and
    hold the event's scope (``user_change`` needs ``users:read``)."""
    scope = slack_scopes.EVENT_SCOPES[event]
    if event not in ws.events or (scope and scope not in ws.scopes):
        return False
    if scope:
        ws.used_scopes.add(scope)
    return True


def channel_type(ws: Workspace, channel_id: str) -> str:
    """An event's ``channel_type``: channel, group, im or mpim."""
    try:
        kind = ws.conversation(channel_id)[1]
    except SlackError:
        kind = "private" if channel_id[:1] == "G" else "public"
    return {"public": "channel", "private": "group"}.get(kind, kind)
