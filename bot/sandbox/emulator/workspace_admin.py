"""What changes the workspace outside the app's calls, as a test stages it.

Why apart from the Web API: in Slack, people create channels, invite or remove the bot,
archive channels and post messages, and an admin reinstalls the app with other scopes; none
of it is a call the app makes, but the app's calls are judged against it. Each change takes
the workspace's lock and wakes waiters, like a request does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from bot.sandbox.emulator.api.users import user_obj
from bot.sandbox.emulator.model import Channel, Message
from bot.sandbox.emulator.rules import access
from bot.sandbox.emulator.workspace import Workspace


class WorkspaceAdmin:
    """Members, channels, membership, scopes and people's messages of ``ws``."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def add_user(
        self,
        user_id: str,
        name: str,
        tz: str = "UTC",
        *,
        real_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
    ) -> None:
        """Register a user for users.info (unknown users answer user_not_found, like Slack)."""
        with self.ws.lock:
            self.ws.add_user(user_id, name, tz, real_name=real_name, email=email, is_bot=is_bot)

    def deactivate(self, user_id: str, *, deleted: bool = True) -> dict[str, Any]:
        """A workspace admin deactivates ``user_id`` (``deleted=False``: reactivates); the
        user object a ``user_change`` event carries (``SlackUser.user_change``)."""
        with self.ws.lock:
            self.ws.users[user_id].deleted = deleted
            self.ws.changed.notify_all()
            return user_obj(self.ws, user_id)

    def add_channel(self, channel_id: str, name: str, *, is_private: bool = False) -> None:
        """Create a public (or private) channel; the bot is not in it until it joins or is
        invited. Channel ids the fake doesn't know answer ``channel_not_found``, as in Slack."""
        with self.ws.lock:
            self.ws.channels[channel_id] = Channel(name, is_private=is_private)

    def invite(self, channel_id: str) -> None:
        """A person runs ``/invite @escbot`` in the channel (the only way into a private one)."""
        with self.ws.changed:
            self.ws.known(channel_id).is_member = True
            self.ws.changed.notify_all()

    def kick(self, channel_id: str) -> None:
        """Someone removes the bot from the channel."""
        with self.ws.changed:
            self.ws.known(channel_id).is_member = False
            self.ws.changed.notify_all()

    def archive(self, channel_id: str) -> None:
        """Archive the channel: posts and joins answer ``is_archived``."""
        with self.ws.changed:
            self.ws.known(channel_id).is_archived = True
            self.ws.changed.notify_all()

    def is_member(self, channel_id: str) -> bool:
        """Whether the bot is in the conversation (always, for its DMs)."""
        with self.ws.lock:
            return access.is_member(self.ws, channel_id)

    def set_scopes(self, scopes: Iterable[str]) -> None:
        """Replace the bot token's scopes (a reinstall with another manifest)."""
        with self.ws.lock:
            self.ws.scopes = frozenset(scopes)

    def grant(self, *scopes: str) -> None:
        """Add scopes to the bot token."""
        with self.ws.lock:
            self.ws.scopes |= set(scopes)

    def revoke(self, *scopes: str) -> None:
        """Take scopes from the bot token."""
        with self.ws.lock:
            self.ws.scopes -= set(scopes)

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        ts: str | None = None,
    ) -> Message:
        """Record a message a human posted (no Web API call), so history and replies show it."""
        with self.ws.changed:
            msg = self.ws.person_posts(
                channel, text, user=user, thread_ts=thread_ts, blocks=blocks, ts=ts
            )
            self.ws.changed.notify_all()
            return copy.deepcopy(msg)
