"""Slack's side of a person's gesture: what ``SlackUser`` asks of the fake around a request.

Why: when a person clicks or types, Slack (not the app) issues the trigger_id and
response_url, shows the ack's body, applies a view submission's ``response_action``, and
delivers a message event only where the app may hear it. The emulated user asks the fake
for these, so they follow the same state and rules as the Web API.
"""

from __future__ import annotations

import copy
from typing import Any

from bot.sandbox.emulator.api import response_url, views
from bot.sandbox.emulator.model import Message
from bot.sandbox.emulator.rules import access
from bot.sandbox.emulator.workspace import Workspace


class Gestures:
    """Trigger ids, response_urls, acks and message events, over ``ws``."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def register_trigger(self, trigger_id: str, user_id: str) -> None:
        """Tell the fake which user a trigger_id belongs to (SlackUser does this)."""
        with self.ws.lock:
            views.register_trigger(self.ws, trigger_id, user_id)

    def enforce_trigger_expiry(self, ttl: float | None = 3.0) -> None:
        """Make known trigger_ids single-use and expire after ``ttl`` s, as Slack does."""
        with self.ws.lock:
            self.ws.trigger_ttl = ttl

    def new_response_url(
        self,
        user_id: str | None,
        channel_id: str | None = None,
        message_ts: str | None = None,
    ) -> str:
        """A response_url served by this fake; what is posted to it lands in its context."""
        with self.ws.lock:
            if not self.ws.base:
                raise RuntimeError("FakeSlack is not started")
            return response_url.new_response_url(self.ws, user_id, channel_id, message_ts)

    def response_user(self, response_id: str) -> str | None:
        """Who sees what is posted to a response_url (for transcripts)."""
        with self.ws.lock:
            ctx = self.ws.response_urls.get(response_id)
            return ctx.user if ctx else None

    def add_ephemeral(
        self,
        user: str,
        channel: str | None,
        text: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> Message:
        """Record an ephemeral shown to ``user`` outside the Web API (e.g. a command's ack body)."""
        with self.ws.changed:
            msg = self.ws.ack_ephemeral(user, channel, text, blocks)
            self.ws.changed.notify_all()
            return copy.deepcopy(msg)

    def accept_view_response(self, user_id: str, view_id: str, response: dict[str, Any]) -> None:
        """Apply a view_submission ack's ``response_action`` update/push, as Slack's client does."""
        with self.ws.changed:
            views.accept_view_response(self.ws, user_id, view_id, response)
            self.ws.changed.notify_all()

    def message_event(self, channel_id: str) -> str | None:
        """The subscription a person's message in ``channel_id`` reaches the app by, or None.

        Slack delivers ``message.channels``/``message.groups`` (thread replies included) only
        from channels the bot is in, and ``message.im`` for DMs with it; the app must subscribe
        to the event and hold its scope (``channels:history``…). ``SlackUser`` asks this before
        delivering a message event.
        """
        with self.ws.lock:
            return access.message_event(self.ws, channel_id)

    def delivers(self, event: str) -> bool:
        """Whether Slack would send the app ``event`` (subscribed, with its scope)."""
        with self.ws.lock:
            return access.delivers(self.ws, event)

    def channel_type(self, channel_id: str) -> str:
        """The event's ``channel_type``: channel, group, im or mpim."""
        with self.ws.lock:
            return access.channel_type(self.ws, channel_id)

    def channel_name(self, channel_id: str) -> str:
        """The registered name, "directmessage" for DMs, else the id lower-cased."""
        with self.ws.lock:
            return self.ws.channel_name(channel_id)
