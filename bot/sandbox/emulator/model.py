"""The fake workspace's records: calls, messages, files, channels, users, triggers.

Why plain dataclasses apart from the state that holds them: tests and the demo read
``Message``, ``Call`` and ``FakeFile`` directly, and each API area builds or changes them, so
they must not drag the server or the rules along.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.slack.scopes import Kind


@dataclass
class Call:
    """One request the fake received, with what it answered."""

    method: str
    args: dict[str, Any]
    time: datetime
    response: dict[str, Any]
    status: int = 200

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))


@dataclass
class Message:
    """A message as it stands now (after updates); ``ephemeral_to`` is set for ephemerals."""

    channel: str
    ts: str
    text: str | None = None
    blocks: list[dict[str, Any]] | None = None
    attachments: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    user: str | None = None
    bot_id: str | None = None
    unfurl_links: bool | None = None
    unfurl_media: bool | None = None
    metadata: dict[str, Any] | None = None
    reply_broadcast: bool = False
    files: list[dict[str, Any]] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    reply_count: int = 0
    latest_reply: str | None = None
    edited_ts: str | None = None
    ephemeral_to: str | None = None

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_slack(self) -> dict[str, Any]:
        """The message object as Slack's APIs return it."""
        d: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text or ""}
        optional = {
            "user": self.user,
            "bot_id": self.bot_id,
            "blocks": self.blocks,
            "attachments": self.attachments,
            "thread_ts": self.thread_ts,
            "metadata": self.metadata,
            "latest_reply": self.latest_reply,
        }
        d.update({k: v for k, v in optional.items() if v is not None})
        if self.reply_count:
            d["reply_count"] = self.reply_count
        if self.files:
            d["files"] = self.files
        if self.reply_broadcast:
            d["subtype"] = "thread_broadcast"
        if self.edited_ts:
            d["edited"] = {"user": self.user, "ts": self.edited_ts}
        if self.reactions:
            d["reactions"] = [
                {"name": n, "users": list(u), "count": len(u)} for n, u in self.reactions.items()
            ]
        return d


@dataclass
class FakeFile:
    """A file uploaded through files.getUploadURLExternal → upload → completeUploadExternal."""

    id: str
    filename: str
    length: int
    alt_txt: str | None = None
    title: str | None = None
    content: bytes | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    completed: bool = False


@dataclass
class Channel:
    """A conversation the workspace has; DMs are not listed (every D… id is the bot's DM)."""

    name: str
    is_private: bool = False
    is_archived: bool = False
    is_member: bool = False
    is_mpim: bool = False

    @property
    def kind(self) -> Kind:
        return "mpim" if self.is_mpim else "private" if self.is_private else "public"


@dataclass
class User:
    """A workspace member as ``users.info`` describes them."""

    name: str
    real_name: str
    tz: str
    email: str
    is_bot: bool = False
    deleted: bool = False  # deactivated by a workspace admin


@dataclass
class Trigger:
    """A trigger_id Slack handed to the app: whose gesture it was, and when (monotonic)."""

    user: str
    issued: float
    used: bool = False


@dataclass
class ResponseUrl:
    """Where a response_url's posts land: who sees them, and the message they may replace."""

    user: str | None = None
    channel: str | None = None
    message_ts: str | None = None
