"""The fake workspace's state: who and what exists, and the one lock that guards it.

Why one object: every Web API area (``api/``) reads and changes the same users, channels,
messages, views and files, and a request must change them atomically, so the dispatcher holds
``lock`` around each one. The rules (``rules/``) decide over this state; the areas apply it.
Nothing here speaks HTTP, and nothing checks a rule: callers hold ``lock``.

``ts`` values and ``Call.time`` follow the injected clock, so they line up with the app's
notion of "now".
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.clock import Clock
from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.lenient import Lenient
from bot.sandbox.emulator.model import (
    Call,
    Channel,
    FakeFile,
    Message,
    ResponseUrl,
    Trigger,
    User,
)
from bot.sandbox.emulator.request_parsing import flag
from bot.sandbox.emulator.rules.blockkit import with_ids
from bot.sandbox.emulator.rules.rate import RateLimits
from bot.sandbox.emulator.socket_mode import SocketModeServer
from bot.slack.manifest import manifest as escbot_manifest
from bot.slack.scopes import Kind

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Workspace:
    """One team with one installed app (escbot): its members, conversations and records."""

    app_id = "A0ESCBOT"
    bot_id = "B0ESCBOT"
    team_name = "Escbot Fake"
    team_domain = "escbot-fake"

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        team_id: str = "T0ESCBOT",
        bot_user_id: str = "U0ESCBOT",
        scopes: Iterable[str] | None = None,
        events: Iterable[str] | None = None,
        seed: int = 0,
        manifest: dict[str, Any] | None = None,
        lenient: Lenient | None = None,
        rate_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``manifest``: the app as installed (default: what ``escbot manifest`` prints);
        ``scopes``/``events`` override its scopes and subscriptions; ``lenient``: the
        kindnesses a test names (default: none, Slack's limits); ``rate_clock``: what the
        rate buckets refill by (wall time; the demo's is virtual)."""
        self.lenient = lenient or Lenient()
        installed = manifest if manifest is not None else escbot_manifest(None, socket_mode=True)
        self.clock = clock
        self.seed = seed  # what file ids derive from
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.lock = threading.RLock()
        #: Notified after every change, so ``wait_until`` re-checks its condition.
        self.changed = threading.Condition(self.lock)
        #: ``http://host:port`` of the server, for the URLs the fake hands out.
        self.base = ""
        self.ids = itertools.count(1)
        self.last_us = 0
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        #: The bot token's scopes (default: the manifest's) and the app's subscriptions.
        self.scopes: frozenset[str] = frozenset(
            installed["oauth_config"]["scopes"]["bot"] if scopes is None else scopes
        )
        self.events: frozenset[str] = frozenset(
            installed["settings"]["event_subscriptions"]["bot_events"] if events is None else events
        )
        #: Whether people can write to the app in its Messages tab (Slack's manifest:
        #: ``features.app_home``, https://docs.slack.dev/reference/app-manifest).
        home = installed.get("features", {}).get("app_home", {})
        self.messages_writable = bool(
            home.get("messages_tab_enabled") and not home.get("messages_tab_read_only_enabled")
        )
        self.used_scopes: set[str] = set()
        #: App-level tokens (``xapp-…``) with their scopes, and the Socket Mode endpoint.
        self.app_tokens: dict[str, tuple[str, ...]] = {}
        self.socket: SocketModeServer | None = None
        self.limits = RateLimits(rate_clock, off=self.lenient.no_rate_tiers)
        self.add_user(bot_user_id, "escbot", is_bot=True)
        self.reset()

    def reset(self) -> None:
        """Forget calls, messages, views, files, triggers and limits; keep users and channels."""
        self.calls: list[Call] = []
        self.messages: dict[str, list[Message]] = {}
        self.by_ts: dict[tuple[str, str], Message] = {}
        self.ephemerals: list[Message] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.view_owner: dict[str, str | None] = {}
        self.last_view: dict[str, str] = {}
        self.home: dict[str, str] = {}
        self.files: dict[str, FakeFile] = {}
        self.uploads: dict[str, int] = {}  # files uploaded so far, by name
        self.triggers: dict[str, Trigger] = {}
        #: Seconds a trigger_id lives, single-use; None: any known one works, again.
        #: Slack: a trigger_id expires 3 s after it was sent to the app, and is single-use
        #: (https://docs.slack.dev/interactivity/handling-user-interaction#modal_responses).
        self.trigger_ttl: float | None = None if self.lenient.no_trigger_expiry else 3.0
        self.response_urls: dict[str, ResponseUrl] = {}
        self.limits.clear()

    # ------------------------------------------------------------------ time and ids

    def now(self) -> datetime:
        return self.clock.now() if self.clock else datetime.now(UTC)

    def next_ts(self) -> str:
        """A unique, increasing Slack ts from the clock (microsecond resolution)."""
        us = (self.now() - _EPOCH) // timedelta(microseconds=1)
        self.last_us = max(us, self.last_us + 1)
        return f"{self.last_us // 1_000_000}.{self.last_us % 1_000_000:06d}"

    def file_id(self, filename: str) -> str:
        """``F`` and ten characters from the seed, the name and how many files of that name
        came before: the same uploads get the same ids whatever else the workspace saw in
        between (from the counter views share, they changed with thread timing)."""
        n = self.uploads[filename] = self.uploads.get(filename, 0) + 1
        digest = hashlib.sha256(f"{self.seed}/{filename}/{n}".encode()).digest()
        return "F" + base64.b32encode(digest).decode()[:10]

    def new_id(self, prefix: str) -> str:
        """A fresh object id (``V…`` views; files get theirs from :meth:`file_id`)."""
        return f"{prefix}{next(self.ids):010d}"

    # ------------------------------------------------------------------ members and conversations

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
        email = email or f"{name}@example.com"
        self.users[user_id] = User(name, real_name or name, tz, email, is_bot)

    @staticmethod
    def dm_channel(user_id: str) -> str:
        """The stable D-channel id of the bot's DM with ``user_id``."""
        return "D" + user_id[1:]

    def alias(self, channel: str) -> str:
        """A user id names the bot's DM with them, as in chat.postMessage."""
        return self.dm_channel(channel) if channel[:1] in ("U", "W") else channel

    def conversation(self, channel: Any) -> tuple[str, Kind]:
        """The conversation's id and kind; ``channel_not_found`` for one the workspace lacks."""
        if not channel or not isinstance(channel, str):
            raise SlackError("channel_not_found")
        if channel[0] in "UWD":
            return self.alias(channel), "im"
        if channel in self.channels:
            return channel, self.channels[channel].kind
        name = channel.lstrip("#")
        for cid, info in self.channels.items():
            if info.name == name and channel[0] not in "CG":
                return cid, info.kind
        raise SlackError("channel_not_found")

    def known(self, channel_id: str) -> Channel:
        """A channel a test added (a KeyError naming the fix otherwise)."""
        if channel_id not in self.channels:
            raise KeyError(f"no channel {channel_id}: add_channel() it first")
        return self.channels[channel_id]

    def channel_name(self, channel_id: str) -> str:
        """The registered name, "directmessage" for DMs, else the id lower-cased."""
        if channel_id in self.channels:
            return self.channels[channel_id].name
        return "directmessage" if channel_id[:1] == "D" else channel_id.lower()

    # ------------------------------------------------------------------ messages

    def thread_root(self, channel: str, thread_ts: Any) -> str | None:
        """Replying to a reply lands in the parent's thread, as in Slack."""
        if not thread_ts:
            return None
        msg = self.by_ts.get((channel, str(thread_ts)))
        return msg.thread_ts if msg is not None and msg.is_reply else str(thread_ts)

    def add_message(self, msg: Message) -> None:
        """File a message in its channel (and its parent's reply count)."""
        self.messages.setdefault(msg.channel, []).append(msg)
        self.by_ts[(msg.channel, msg.ts)] = msg
        parent = (
            self.by_ts.get((msg.channel, msg.thread_ts)) if msg.is_reply and msg.thread_ts else None
        )
        if parent is not None:
            parent.reply_count += 1
            parent.latest_reply = msg.ts

    def remove_message(self, msg: Message) -> None:
        self.messages[msg.channel].remove(msg)
        del self.by_ts[(msg.channel, msg.ts)]

    def person_posts(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        thread_ts: str | None,
        blocks: list[dict[str, Any]] | None,
        ts: str | None,
    ) -> Message:
        """A message a person posted (no Web API call); ``ts`` may be chosen by the caller."""
        if ts:  # keep generated ts unique and increasing past a caller-chosen one
            sec, _, frac = ts.partition(".")
            self.last_us = max(self.last_us, int(sec) * 1_000_000 + int(frac.ljust(6, "0")))
        msg = Message(
            channel=channel,
            ts=ts or self.next_ts(),
            text=text,
            blocks=blocks,
            thread_ts=self.thread_root(channel, thread_ts),
            user=user,
        )
        self.add_message(msg)
        self.person_in(channel, user)
        return msg

    def person_in(self, channel: str | None, user: str | None) -> None:
        """``user`` is in ``channel``: Slack lets a person type, run a command or click
        only in a conversation they are in (DMs need nothing)."""
        info = self.channels.get(channel or "")
        if info is not None and user:
            info.people.add(user)

    def bot_posts(self, channel: str, args: dict[str, Any], **extra: Any) -> Message:
        """A message the bot posted with these arguments (an ephemeral with ``ephemeral_to``)."""
        msg = Message(
            channel=channel,
            ts=self.next_ts(),
            text=args.get("text"),
            blocks=with_ids(copy.deepcopy(args.get("blocks"))),
            attachments=args.get("attachments"),
            thread_ts=self.thread_root(channel, args.get("thread_ts")),
            user=self.bot_user_id,
            bot_id=self.bot_id,
            unfurl_links=flag(args.get("unfurl_links")),
            unfurl_media=flag(args.get("unfurl_media")),
            metadata=args.get("metadata"),
            reply_broadcast=bool(flag(args.get("reply_broadcast"))),
            **extra,
        )
        if msg.ephemeral_to:
            self.ephemerals.append(msg)
        else:
            self.add_message(msg)
        return msg

    def ack_ephemeral(
        self, user: str, channel: str | None, text: str | None, blocks: list[dict[str, Any]] | None
    ) -> Message:
        """An ephemeral the app showed ``user`` outside the Web API (a command's ack body)."""
        msg = Message(
            channel=channel or "",
            ts=self.next_ts(),
            text=text,
            blocks=blocks,
            user=self.bot_user_id,
            bot_id=self.bot_id,
            ephemeral_to=user,
        )
        self.ephemerals.append(msg)
        return msg
