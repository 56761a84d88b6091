"""Which OAuth scope each Slack Web API method needs: the one table of it.

Why one table: the manifest asks for scopes, the emulator refuses a call without its scope
(``missing_scope``), and a test derives the scopes escbot needs from the methods it really
calls. All three read this table, copied from each method's "Required scopes" in Slack's
reference (docs.slack.dev / api.slack.com/methods), bot tokens.

Some methods need a different scope by the kind of conversation they touch (history of a
public channel needs ``channels:history``, of a DM ``im:history``); those map a kind to a
scope. A method that needs no scope maps to ``None``.
"""

from __future__ import annotations

from typing import Literal

#: The kinds of conversation Slack tells apart for scopes.
Kind = Literal["public", "private", "im", "mpim"]

_HISTORY: dict[Kind, str] = {
    "public": "channels:history",
    "private": "groups:history",
    "im": "im:history",
    "mpim": "mpim:history",
}
_READ: dict[Kind, str] = {
    "public": "channels:read",
    "private": "groups:read",
    "im": "im:read",
    "mpim": "mpim:read",
}

#: method → the scope it needs (``None``: none), or the scope by conversation kind.
METHOD_SCOPES: dict[str, str | dict[Kind, str] | None] = {
    "api.test": None,
    "auth.test": None,
    "team.info": "team:read",
    # Posting. chat.postMessage to a public channel the bot is not in also needs
    # chat:write.public (see POST_WITHOUT_JOINING); a private one needs membership.
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "chat.getPermalink": None,
    # Conversations.
    "conversations.open": {"im": "im:write", "mpim": "mpim:write"},
    "conversations.join": "channels:join",
    "conversations.info": _READ,
    "conversations.history": _HISTORY,
    "conversations.replies": _HISTORY,
    # files_upload_v2: the upload itself goes to the URL Slack hands out, unauthenticated.
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "users.info": "users:read",
    "reactions.add": "reactions:write",
    # Views need no scope: a trigger_id or the app's own view/home is the permission.
    "views.open": None,
    "views.push": None,
    "views.update": None,
    "views.publish": None,
    # Socket Mode: called with the app-level token (xapp-…), not the bot token.
    "apps.connections.open": "connections:write",
}

#: Methods called with the app-level token; their scope is the app token's, not the bot's.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})

#: The extra scope that lets chat.postMessage post to a public channel without joining it.
POST_WITHOUT_JOINING = "chat:write.public"

#: Events by conversation kind, and the scope each subscription needs.
MESSAGE_EVENTS: dict[Kind, str] = {
    "public": "message.channels",
    "private": "message.groups",
    "im": "message.im",
    "mpim": "message.mpim",
}
EVENT_SCOPES: dict[str, str | None] = {
    "app_home_opened": None,
    "user_change": "users:read",  # a member deactivated (``deleted: true``) or changed
    **{event: _HISTORY[kind] for kind, event in MESSAGE_EVENTS.items()},
}

#: Slash commands and shortcuts are features, not methods; both need ``commands``.
COMMANDS = "commands"


def needed(method: str, kind: Kind | None = None) -> str | None:
    """The scope ``method`` needs on a conversation of ``kind``; ``None`` if it needs none.

    Raises ``KeyError`` for a method not in the table, so a new call can't slip past it.
    """
    entry = METHOD_SCOPES[method]
    if isinstance(entry, dict):
        if kind is None or kind not in entry:
            raise KeyError(f"{method} needs a conversation kind, got {kind!r}")
        return entry[kind]
    return entry


def accepted(method: str) -> list[str]:
    """Every scope that can satisfy ``method`` (Slack's ``x-accepted-oauth-scopes``)."""
    entry = METHOD_SCOPES.get(method)
    if isinstance(entry, dict):
        return sorted(set(entry.values()))
    return [entry] if entry else []
