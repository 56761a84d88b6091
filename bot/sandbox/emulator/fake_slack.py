"""A fake Slack Web API served over real HTTP on loopback.

Why: the real ``slack_sdk.WebClient`` (and Bolt on top of it) is pointed at it with ``base_url``,
so tests and ``escbot demo`` exercise the real client — body encoding, 429 handling, retry
handlers, files_upload_v2's three steps — instead of a mock that agrees with our own mistakes.

State (messages, views, files) is kept the way Slack would show it, every request is recorded as a
``Call``, and faults (rate limits, outages, errors) can be switched on at runtime.

Slack's rules are enforced, always (docs/architecture.md, "The emulator's rules"): channels are
public or private and the bot is a member only after ``conversations.join`` (public) or
``invite`` (a person's ``/invite @escbot``); every method checks its scope from
:mod:`bot.slack.scopes` against the token's (default: exactly the manifest's); reading history,
sharing a file and posting to a private channel need membership; message events reach the app
only from channels it is in (see :meth:`FakeSlack.message_event`).
Rate limits and ``latency`` use wall time (clients really sleep); ``ts`` values and ``Call.time``
follow the injected clock so they line up with the app's notion of "now".
"""

from __future__ import annotations

import base64
import copy
import email.parser
import email.policy
import hashlib
import itertools
import json
import math
import random
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from bot.core.clock import Clock
from bot.sandbox.emulator.socket_mode import ACK_TIMEOUT, SocketModeServer
from bot.slack import scopes as slack_scopes
from bot.slack.manifest import BOT_EVENTS, BOT_SCOPES
from bot.slack.scopes import Kind

T = TypeVar("T")

#: Argument names whose values Slack accepts as JSON text inside form bodies.
JSON_ARGS = frozenset({"blocks", "attachments", "view", "files", "metadata", "unfurls"})
MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
TEXT_LIMIT = 40_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SlackError(Exception):
    """An ``ok: false`` answer (HTTP 200 unless ``status`` says otherwise)."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


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
class _Channel:
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
class _Fault:
    method: str
    error: str
    status: int
    retry_after: int | None
    remaining: int | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Trigger:
    user: str
    issued: float
    used: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the stdlib's 5 drops connections under load tests
    fake: FakeSlack


_DROP = -1  # _handle_http's status for "close without answering"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, data, out_headers = self.server.fake._handle_http(self.path, headers, body)
        if status == _DROP:  # the call was processed; the answer is "lost on the network"
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(status)
        for name, value in out_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeSlack:
    """A fake Slack Web API server; give ``url`` to ``WebClient(base_url=...)``."""

    app_id = "A0ESCBOT"
    bot_id = "B0ESCBOT"
    team_name = "Escbot Fake"
    team_domain = "escbot-fake"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Clock | None = None,
        team_id: str = "T0ESCBOT",
        bot_user_id: str = "U0ESCBOT",
        scopes: Iterable[str] | None = None,
        events: Iterable[str] | None = None,
        seed: int = 0,
    ) -> None:
        """``scopes``: the bot token's (default: the manifest's); ``events``: the app's
        event subscriptions (default: the manifest's); ``seed``: what file ids derive from."""
        self.host, self.port = host, port
        self.clock = clock
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        #: Seconds added to every request (wall time), to make slowness visible.
        self.latency: float = 0.0
        self._lost: dict[str, int] = {}
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._seed = seed
        self._last_us = 0
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, _Channel] = {}
        self._scopes: frozenset[str] = frozenset(BOT_SCOPES if scopes is None else scopes)
        self._events: frozenset[str] = frozenset(BOT_EVENTS if events is None else events)
        self._used_scopes: set[str] = set()
        self._socket: SocketModeServer | None = None
        self._app_tokens: dict[str, tuple[str, ...]] = {}
        self.add_user(bot_user_id, "escbot", is_bot=True)
        self.reset()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        """Serve on a daemon thread; returns self so ``FakeSlack().start()`` reads well."""
        if self._server is None:
            server = _Server((self.host, self.port), _Handler)
            server.fake = self
            self.port = server.server_address[1]
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever, args=(0.05,), name="fake-slack", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._socket is not None:
            self._socket.stop()
            self._socket = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        """``http://host:port`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The Web API base URL for ``WebClient(base_url=...)``; ends with ``/api/``."""
        return f"{self.base}/api/"

    def reset(self) -> None:
        """Forget calls, messages, views, files, faults and limits; keep users and channels."""
        with self._lock:
            self._calls: list[Call] = []
            self._messages: dict[str, list[Message]] = {}
            self._by_ts: dict[tuple[str, str], Message] = {}
            self._ephemerals: list[Message] = []
            self._views: dict[str, dict[str, Any]] = {}
            self._view_owner: dict[str, str | None] = {}
            self._last_view: dict[str, str] = {}
            self._home: dict[str, str] = {}
            self._files: dict[str, FakeFile] = {}
            self._uploads: dict[str, int] = {}  # files uploaded so far, by name
            self._triggers: dict[str, _Trigger] = {}
            self._trigger_ttl: float | None = None
            self._response_urls: dict[str, dict[str, Any]] = {}
            self._faults: list[_Fault] = []
            self._outage = False
            self._ratio = 0.0
            self._rng = random.Random()
            self._rate: tuple[float, float] | None = None
            self._buckets: dict[str, tuple[float, float]] = {}
            self._cond.notify_all()

    # ------------------------------------------------------------------ registries

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
        with self._lock:
            self._users[user_id] = {
                "name": name,
                "real_name": real_name or name,
                "tz": tz,
                "email": email or f"{name}@example.com",
                "is_bot": is_bot,
            }

    def add_channel(self, channel_id: str, name: str, *, is_private: bool = False) -> None:
        """Create a public (or private) channel; the bot is not in it until it joins or is
        invited. Channel ids the fake doesn't know answer ``channel_not_found``, as in Slack."""
        with self._lock:
            self._channels[channel_id] = _Channel(name, is_private=is_private)

    def invite(self, channel_id: str) -> None:
        """A person runs ``/invite @escbot`` in the channel (the only way into a private one)."""
        with self._cond:
            self._known(channel_id).is_member = True
            self._cond.notify_all()

    def kick(self, channel_id: str) -> None:
        """Someone removes the bot from the channel."""
        with self._cond:
            self._known(channel_id).is_member = False
            self._cond.notify_all()

    def archive(self, channel_id: str) -> None:
        """Archive the channel: posts and joins answer ``is_archived``."""
        with self._cond:
            self._known(channel_id).is_archived = True
            self._cond.notify_all()

    def is_member(self, channel_id: str) -> bool:
        """Whether the bot is in the conversation (always, for its DMs)."""
        with self._lock:
            if channel_id[:1] in ("D", "U", "W"):
                return True
            info = self._channels.get(channel_id)
            return info is not None and info.is_member

    @property
    def scopes(self) -> frozenset[str]:
        """The bot token's scopes, as ``x-oauth-scopes`` reports them."""
        with self._lock:
            return self._scopes

    def set_scopes(self, scopes: Iterable[str]) -> None:
        """Replace the bot token's scopes (a reinstall with another manifest)."""
        with self._lock:
            self._scopes = frozenset(scopes)

    def grant(self, *scopes: str) -> None:
        """Add scopes to the bot token."""
        with self._lock:
            self._scopes |= set(scopes)

    def revoke(self, *scopes: str) -> None:
        """Take scopes from the bot token."""
        with self._lock:
            self._scopes -= set(scopes)

    @property
    def used_scopes(self) -> set[str]:
        """The scopes calls and delivered events have really needed since the fake started."""
        with self._lock:
            return set(self._used_scopes)

    def message_event(self, channel_id: str) -> str | None:
        """The subscription a person's message in ``channel_id`` reaches the app by, or None.

        Slack delivers ``message.channels``/``message.groups`` (thread replies included) only
        from channels the bot is in, and ``message.im`` for DMs with it; the app must subscribe
        to the event and hold its scope (``channels:history``…). ``SlackUser`` asks this before
        delivering a message event.
        """
        with self._lock:
            try:
                cid, kind = self._conversation(channel_id)
            except SlackError:
                return None
            event = slack_scopes.MESSAGE_EVENTS[kind]
            scope = slack_scopes.EVENT_SCOPES[event]
            if event not in self._events or (scope and scope not in self._scopes):
                return None
            if kind != "im" and not self._channels[cid].is_member:
                return None
            if scope:
                self._used_scopes.add(scope)
            return event

    def channel_type(self, channel_id: str) -> str:
        """The event's ``channel_type``: channel, group, im or mpim."""
        with self._lock:
            try:
                kind = self._conversation(channel_id)[1]
            except SlackError:
                kind = "private" if channel_id[:1] == "G" else "public"
        return {"public": "channel", "private": "group"}.get(kind, kind)

    def misplaced_unfurls(self) -> list[Call]:
        """Calls that sent ``unfurl_links``/``unfurl_media`` where Slack ignores them.

        Only chat.postMessage takes them; on chat.update, chat.postEphemeral or a response_url
        they do nothing, so a promise resting on them there is not kept.
        """
        with self._lock:
            return [
                c
                for c in self._calls
                if c.method != "chat.postMessage"
                and ("unfurl_links" in c.args or "unfurl_media" in c.args)
            ]

    def dm_channel(self, user_id: str) -> str:
        """The stable D-channel id of the bot's DM with ``user_id``."""
        return "D" + user_id[1:]

    def channel_name(self, channel_id: str) -> str:
        """The registered name, "directmessage" for DMs, else the id lower-cased."""
        with self._lock:
            if channel_id in self._channels:
                return self._channels[channel_id].name
        return "directmessage" if channel_id[:1] == "D" else channel_id.lower()

    def register_trigger(self, trigger_id: str, user_id: str) -> None:
        """Tell the fake which user a trigger_id belongs to (SlackUser does this)."""
        with self._lock:
            self._triggers[trigger_id] = _Trigger(user_id, time.monotonic())

    def enforce_trigger_expiry(self, ttl: float | None = 3.0) -> None:
        """Make known trigger_ids single-use and expire after ``ttl`` s, as Slack does."""
        with self._lock:
            self._trigger_ttl = ttl

    def new_response_url(
        self,
        user_id: str | None,
        channel_id: str | None = None,
        message_ts: str | None = None,
    ) -> str:
        """A response_url served by this fake; what is posted to it lands in its context."""
        rid = uuid.uuid4().hex
        with self._lock:
            self._response_urls[rid] = {
                "user": user_id,
                "channel": channel_id,
                "message_ts": message_ts,
            }
        return f"{self.base}/response/{rid}"

    def response_user(self, response_id: str) -> str | None:
        """Who sees what is posted to a response_url (for transcripts)."""
        with self._lock:
            return self._response_urls.get(response_id, {}).get("user")

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
        with self._cond:
            if ts:  # keep generated ts unique and increasing past a caller-chosen one
                sec, _, frac = ts.partition(".")
                self._last_us = max(self._last_us, int(sec) * 1_000_000 + int(frac.ljust(6, "0")))
            msg = Message(
                channel=channel,
                ts=ts or self._next_ts(),
                text=text,
                blocks=blocks,
                thread_ts=self._thread_root(channel, thread_ts),
                user=user,
            )
            self._add_message(msg)
            self._cond.notify_all()
            return copy.deepcopy(msg)

    def add_ephemeral(
        self,
        user: str,
        channel: str | None,
        text: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> Message:
        """Record an ephemeral shown to ``user`` outside the Web API (e.g. a command's ack body)."""
        with self._cond:
            msg = Message(
                channel=channel or "",
                ts=self._next_ts(),
                text=text,
                blocks=blocks,
                user=self.bot_user_id,
                bot_id=self.bot_id,
                ephemeral_to=user,
            )
            self._ephemerals.append(msg)
            self._cond.notify_all()
            return copy.deepcopy(msg)

    def accept_view_response(self, user_id: str, view_id: str, response: dict[str, Any]) -> None:
        """Apply a view_submission ack's ``response_action`` update/push, as Slack's client does."""
        action, spec = response.get("response_action"), response.get("view")
        if action not in ("update", "push") or not isinstance(spec, dict):
            return
        with self._cond:
            if action == "update" and view_id in self._views:
                self._store_view(spec, user=user_id, existing=self._views[view_id])
            else:
                self._store_view(spec, user=user_id, previous=view_id)
            self._cond.notify_all()

    # ------------------------------------------------------------------ Socket Mode

    def enable_socket_mode(
        self,
        app_token: str = "xapp-1-A0ESCBOT-1-fake",
        *,
        scopes: tuple[str, ...] = ("connections:write",),
        ssl_context: ssl.SSLContext | None = None,
        ack_timeout: float = ACK_TIMEOUT,
    ) -> SocketModeServer:
        """Turn Socket Mode on for the app: ``apps.connections.open`` accepts ``app_token``.

        With ``ssl_context`` the URLs are ``wss://`` served over TLS, else ``ws://``.
        """
        with self._lock:
            self._app_tokens[app_token] = scopes
            if self._socket is None:
                self._socket = SocketModeServer(
                    self.app_id, self.host, ssl_context=ssl_context, ack_timeout=ack_timeout
                ).start()
            return self._socket

    @property
    def socket(self) -> SocketModeServer:
        """The Socket Mode endpoint (``enable_socket_mode`` first)."""
        if self._socket is None:
            raise RuntimeError("Socket Mode is off: call enable_socket_mode()")
        return self._socket

    def drop_socket(self) -> None:
        """Close the app's Socket Mode connections without warning; it may reconnect."""
        self.socket.drop()

    def _open_socket(self, token: str | None) -> dict[str, Any]:
        """``apps.connections.open``: only an app-level token with ``connections:write``."""
        if not token:
            raise SlackError("not_authed")
        if token.startswith("xox"):
            raise SlackError("not_allowed_token_type")
        scopes = self._app_tokens.get(token)
        if scopes is None or self._socket is None:
            raise SlackError("invalid_auth")
        if "connections:write" not in scopes:
            raise SlackError("missing_scope", needed="connections:write", provided=",".join(scopes))
        return {"url": self._socket.open_url()}

    # ------------------------------------------------------------------ faults

    def fail(
        self,
        method: str,
        error: str | None = None,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
        **extra: Any,
    ) -> None:
        """Fail the next ``times`` calls of ``method`` ("*": any); ``times=None``: until cleared.

        No error and no status → 429 ratelimited (Retry-After 1); a status alone → that HTTP
        error; an error alone → HTTP 200 with ``ok: false``. ``extra`` goes into the answer
        (e.g. ``needed="im:history"`` with ``missing_scope``).
        """
        if status is None:
            status = 200 if error else 429
        if error is None:
            error = {429: "ratelimited", 503: "service_unavailable"}.get(status, "internal_error")
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._faults.append(_Fault(method, error, status, retry_after, times, extra))

    def clear_faults(self) -> None:
        """Remove injected faults, the outage, the random failure ratio and channel limits."""
        with self._lock:
            self._faults.clear()
            self._outage = False
            self._ratio = 0.0
            self._rate = None
            self._buckets.clear()
            self._lost.clear()

    def lose_answers(self, method: str, times: int = 1) -> None:
        """Process the next ``times`` calls of ``method`` but drop the connection instead of
        answering: the client can't know the call took effect (a crash or network cut)."""
        with self._lock:
            self._lost[method] = self._lost.get(method, 0) + times

    def outage(self, on: bool = True) -> None:
        """While on, every request answers HTTP 503."""
        with self._lock:
            self._outage = on

    def fail_ratio(self, ratio: float, seed: int | None = None) -> None:
        """Fail this fraction of requests at random, half 429 (Retry-After 1), half 500."""
        with self._lock:
            self._ratio = ratio
            self._rng = random.Random(seed)

    def enforce_channel_rate(self, per_second: float | None = 1.0, burst: int = 3) -> None:
        """Token-bucket chat.postMessage per channel (Slack allows ~1/s with short bursts).

        ``per_second=None`` turns it off.
        """
        with self._lock:
            self._rate = None if per_second is None else (per_second, float(burst))
            self._buckets.clear()

    # ------------------------------------------------------------------ inspection

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def mark(self) -> int:
        """Index of the next call; pass as ``wait_for(..., since=mark)`` to ignore earlier ones."""
        with self._lock:
            return len(self._calls)

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages (and thread broadcasts) of a channel, oldest first, as they are."""
        with self._lock:
            msgs = self._messages.get(self._alias(channel), [])
            return [copy.deepcopy(m) for m in msgs if not m.is_reply or m.reply_broadcast]

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The replies in the thread of ``ts`` (the parent excluded), oldest first."""
        with self._lock:
            msgs = self._messages.get(self._alias(channel), [])
            return [copy.deepcopy(m) for m in msgs if m.is_reply and m.thread_ts == ts]

    def message(self, channel: str, ts: str) -> Message | None:
        with self._lock:
            msg = self._by_ts.get((self._alias(channel), ts))
            return copy.deepcopy(msg)

    def dms(self, user: str) -> list[Message]:
        """Messages the bot sent to ``user``'s DM (thread replies included)."""
        with self._lock:
            return [copy.deepcopy(m) for m in self._messages.get(self.dm_channel(user), [])]

    def ephemerals(self, user: str | None = None) -> list[Message]:
        with self._lock:
            return [
                copy.deepcopy(m) for m in self._ephemerals if user is None or m.ephemeral_to == user
            ]

    @property
    def files(self) -> list[FakeFile]:
        with self._lock:
            return [copy.deepcopy(f) for f in self._files.values()]

    def view(self, view_id: str) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self._views.get(view_id))

    def last_view(self, user_id: str) -> dict[str, Any] | None:
        """The modal most recently opened, pushed or updated for ``user_id``."""
        with self._lock:
            vid = self._last_view.get(user_id)
            return copy.deepcopy(self._views[vid]) if vid else None

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view last published for ``user_id``."""
        with self._lock:
            vid = self._home.get(user_id)
            return copy.deepcopy(self._views[vid]) if vid else None

    def wait_until(self, condition: Callable[[], T | None], timeout: float = 5.0) -> T:
        """Block until ``condition()`` is truthy (re-checked after every request); return it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = condition()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [
                        f"{c.method}:{c.status}:{c.response.get('error', 'ok')}"
                        for c in self._calls[-15:]
                    ]
                    raise TimeoutError(f"condition not met in {timeout}s; last calls: {seen}")
                self._cond.wait(remaining)

    def wait_for(
        self,
        match: str | Callable[[Call], bool],
        timeout: float = 5.0,
        *,
        count: int = 1,
        since: int = 0,
    ) -> Call:
        """Block until ``count`` matching calls (from index ``since``) arrived; return the last.

        A method name matches only successful calls (delivered, ``ok: true``); pass a predicate
        to see failed attempts too.
        """

        def pred(c: Call) -> bool:
            return (c.method == match and c.ok) if isinstance(match, str) else match(c)

        def found() -> Call | None:
            hits = [c for c in self._calls[since:] if pred(c)]
            return hits[count - 1] if len(hits) >= count else None

        try:
            return self.wait_until(found, timeout)
        except TimeoutError as e:
            raise TimeoutError(f"no {count}x {match!r} call: {e}") from None

    # ------------------------------------------------------------------ HTTP plumbing

    def _handle_http(
        self, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        parts = urlsplit(path)
        route = parts.path
        if self.latency:
            time.sleep(self.latency)
        ctype = headers.get("content-type", "")
        if route.startswith("/api/"):
            method = route[len("/api/") :]
            try:
                args = _parse_body(ctype, body, parts.query)
            except ValueError:
                return self._serve(method, {}, lambda _: _raise("invalid_json"), auth=False)
            token = _bearer(headers.get("authorization")) or args.pop("token", None)
            if method == "apps.connections.open":  # app-level tokens only: not _serve's check
                return self._serve(method, args, lambda _: self._open_socket(token), auth=False)
            answer = self._serve(method, args, lambda a: self._api(method, a), token=token)
            with self._lock:
                if answer[0] == 200 and self._lost.get(method, 0) > 0:
                    self._lost[method] -= 1
                    return _DROP, b"", {}
            return answer
        if route.startswith("/upload/"):
            args = {"file_id": route[len("/upload/") :], "content": body}
            return self._serve("file_upload", args, self._upload, auth=False)
        if route.startswith("/response/"):
            try:
                args = _parse_body(ctype, body, "")
            except ValueError:
                args = {"raw": body.decode("utf-8", "replace")}
            args["response_id"] = route[len("/response/") :]
            status, data, out = self._serve("response_url", args, self._respond, auth=False)
            if status == 200:  # Slack answers response_url posts with a plain "ok"
                return 200, b"ok", {"Content-Type": "text/plain"}
            return status, data, out
        if route.startswith("/files/"):
            with self._lock:
                f = self._files.get(route.split("/")[2])
            if f is not None and f.content is not None:
                return 200, f.content, {"Content-Type": "application/octet-stream"}
        return 404, b"not found", {"Content-Type": "text/plain"}

    def _serve(
        self,
        method: str,
        args: dict[str, Any],
        impl: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        auth: bool = True,
        token: str | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        """Faults, auth, the method itself, recording; one lock so state changes are atomic."""
        with self._cond:
            headers: dict[str, str] = {}
            try:
                self._check_faults(method)
                if auth and not token:
                    raise SlackError("not_authed")
                if auth and not str(token).startswith("xox"):
                    raise SlackError("invalid_auth")
                response, status = {"ok": True, **impl(args)}, 200
            except SlackError as e:
                response, status, headers = e.body(), e.status, e.headers
            recorded = {k: v for k, v in args.items() if k != "content"}
            if "content" in args:
                recorded["length"] = len(args["content"])
            self._calls.append(Call(method, recorded, self._now(), response, status))
            self._cond.notify_all()
            if auth:  # Slack reports the token's scopes on every Web API answer
                headers = {
                    "x-oauth-scopes": ",".join(sorted(self._scopes)),
                    "x-accepted-oauth-scopes": ",".join(slack_scopes.accepted(method)),
                    **headers,
                }
        out = {"Content-Type": "application/json; charset=utf-8", **headers}
        return status, json.dumps(response).encode(), out

    def _check_faults(self, method: str) -> None:
        if self._outage:
            raise SlackError("service_unavailable", status=503)
        for fault in self._faults:
            if fault.method in (method, "*"):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                retry = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
                raise SlackError(fault.error, status=fault.status, headers=retry, **fault.extra)
        if self._ratio and self._rng.random() < self._ratio:
            if self._rng.random() < 0.5:
                raise SlackError("ratelimited", status=429, headers={"Retry-After": "1"})
            raise SlackError("internal_error", status=500)

    def _api(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        impl = getattr(self, "_api_" + method.replace(".", "_"), None)
        if impl is None:
            raise SlackError("unknown_method")
        self._check_scope(method, args)
        return impl(args)

    def _check_scope(self, method: str, args: dict[str, Any]) -> None:
        """``missing_scope`` with ``needed``/``provided`` unless the token has the method's."""
        entry = slack_scopes.METHOD_SCOPES.get(method)
        if entry is None or method in slack_scopes.APP_TOKEN_METHODS:
            return
        kind: Kind | None = None
        if isinstance(entry, dict):
            if method == "conversations.open":
                kind = "im" if len(_user_ids(args)) == 1 else "mpim"
            else:
                kind = self._conversation(args.get("channel"))[1]
        self._need(slack_scopes.needed(method, kind))

    def _need(self, scope: str | None) -> None:
        if not scope:
            return
        if scope not in self._scopes:
            provided = ",".join(sorted(self._scopes))
            raise SlackError("missing_scope", needed=scope, provided=provided)
        self._used_scopes.add(scope)

    # ------------------------------------------------------------------ helpers (lock held)

    def _now(self) -> datetime:
        return self.clock.now() if self.clock else datetime.now(UTC)

    def _next_ts(self) -> str:
        """A unique, increasing Slack ts from the clock (microsecond resolution)."""
        us = (self._now() - _EPOCH) // timedelta(microseconds=1)
        self._last_us = max(us, self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def _file_id(self, filename: str) -> str:
        """``F`` and ten characters from the seed, the name and how many files of that name
        came before: the same uploads get the same ids whatever else the workspace saw in
        between (from a counter shared with views, they changed with thread timing)."""
        n = self._uploads[filename] = self._uploads.get(filename, 0) + 1
        digest = hashlib.sha256(f"{self._seed}/{filename}/{n}".encode()).digest()
        return "F" + base64.b32encode(digest).decode()[:10]

    def _alias(self, channel: str) -> str:
        return self.dm_channel(channel) if channel[:1] in ("U", "W") else channel

    def _conversation(self, channel: Any) -> tuple[str, Kind]:
        """The conversation's id and kind; ``channel_not_found`` for one the workspace lacks."""
        if not channel or not isinstance(channel, str):
            raise SlackError("channel_not_found")
        if channel[0] in "UWD":
            return self._alias(channel), "im"
        if channel in self._channels:
            return channel, self._channels[channel].kind
        name = channel.lstrip("#")
        for cid, info in self._channels.items():
            if info.name == name and channel[0] not in "CG":
                return cid, info.kind
        raise SlackError("channel_not_found")

    def _known(self, channel_id: str) -> _Channel:
        if channel_id not in self._channels:
            raise KeyError(f"no channel {channel_id}: add_channel() it first")
        return self._channels[channel_id]

    def _readable(self, channel: Any) -> tuple[str, Kind]:
        """A conversation the bot may read or share into: it must be a member.

        A private channel it is not in is invisible to it (``channel_not_found``); a public one
        answers ``not_in_channel``.
        """
        cid, kind = self._visible(channel)
        if kind != "im" and not self._channels[cid].is_member:
            raise SlackError("not_in_channel")
        return cid, kind

    def _visible(self, channel: Any) -> tuple[str, Kind]:
        """A conversation the bot can see: public ones, its DMs, private ones it is in."""
        cid, kind = self._conversation(channel)
        if kind in ("private", "mpim") and not self._channels[cid].is_member:
            raise SlackError("channel_not_found")
        return cid, kind

    def _postable(self, channel: Any, *, public_without_joining: bool) -> str:
        """Where the bot may post: archived → ``is_archived``; a public channel it is not in
        only with ``chat:write.public`` (chat.postMessage), else ``not_in_channel``."""
        cid, kind = self._visible(channel)
        if kind == "im":
            return cid
        info = self._channels[cid]
        if info.is_archived:
            raise SlackError("is_archived")
        if not info.is_member and public_without_joining:
            if slack_scopes.POST_WITHOUT_JOINING not in self._scopes:
                raise SlackError("not_in_channel")
            self._used_scopes.add(slack_scopes.POST_WITHOUT_JOINING)
        return cid

    def _thread_root(self, channel: str, thread_ts: Any) -> str | None:
        """Replying to a reply lands in the parent's thread, as in Slack."""
        if not thread_ts:
            return None
        msg = self._by_ts.get((channel, str(thread_ts)))
        return msg.thread_ts if msg is not None and msg.is_reply else str(thread_ts)

    def _add_message(self, msg: Message) -> None:
        self._messages.setdefault(msg.channel, []).append(msg)
        self._by_ts[(msg.channel, msg.ts)] = msg
        parent = (
            self._by_ts.get((msg.channel, msg.thread_ts))
            if msg.is_reply and msg.thread_ts
            else None
        )
        if parent is not None:
            parent.reply_count += 1
            parent.latest_reply = msg.ts

    def _find(self, args: dict[str, Any], ts_key: str = "ts") -> Message:
        channel = self._visible(args.get("channel"))[0]
        msg = self._by_ts.get((channel, str(args.get(ts_key))))
        if msg is None:
            raise SlackError("message_not_found")
        return msg

    def _check_content(self, args: dict[str, Any], *, need_text: bool) -> None:
        text = args.get("text")
        if isinstance(text, str) and len(text) > TEXT_LIMIT:
            raise SlackError("msg_too_long")
        if args.get("blocks") is not None:
            errors = block_errors(args["blocks"], MESSAGE_BLOCK_LIMIT)
            if errors:
                raise _invalid_blocks(errors)
        if need_text and not (text or args.get("blocks") or args.get("attachments")):
            raise SlackError("no_text")

    def _take_channel_token(self, channel: str) -> None:
        if self._rate is None:
            return
        rate, burst = self._rate
        now = time.monotonic()
        tokens, last = self._buckets.get(channel, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens < 1:
            self._buckets[channel] = (tokens, now)
            wait = max(1, math.ceil((1 - tokens) / rate))
            raise SlackError("ratelimited", status=429, headers={"Retry-After": str(wait)})
        self._buckets[channel] = (tokens - 1, now)

    def _post(self, channel: str, args: dict[str, Any], **extra: Any) -> Message:
        msg = Message(
            channel=channel,
            ts=self._next_ts(),
            text=args.get("text"),
            blocks=_with_ids(copy.deepcopy(args.get("blocks"))),
            attachments=args.get("attachments"),
            thread_ts=self._thread_root(channel, args.get("thread_ts")),
            user=self.bot_user_id,
            bot_id=self.bot_id,
            unfurl_links=_flag(args.get("unfurl_links")),
            unfurl_media=_flag(args.get("unfurl_media")),
            metadata=args.get("metadata"),
            reply_broadcast=bool(_flag(args.get("reply_broadcast"))),
            **extra,
        )
        if msg.ephemeral_to:
            self._ephemerals.append(msg)
        else:
            self._add_message(msg)
        return msg

    def _permalink(self, channel: str, ts: str) -> str:
        link = f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        msg = self._by_ts.get((channel, ts))
        if msg is not None and msg.is_reply:
            link += f"?thread_ts={msg.thread_ts}&cid={channel}"
        return link

    def _channel_info(self, channel: str) -> dict[str, Any]:
        info = self._channels.get(channel)
        if info is None:  # the bot's DM with a user
            im_user = next((u for u in self._users if self.dm_channel(u) == channel), None)
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

    def _user_obj(self, user_id: str) -> dict[str, Any]:
        u = self._users[user_id]
        try:
            offset = self._now().astimezone(ZoneInfo(u["tz"])).utcoffset()
        except (KeyError, ValueError):
            offset = None
        profile = {
            "real_name": u["real_name"],
            "display_name": u["name"],
            "email": u["email"],
            "real_name_normalized": u["real_name"],
            "display_name_normalized": u["name"],
        }
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": u["name"],
            "real_name": u["real_name"],
            "deleted": False,
            "tz": u["tz"],
            "tz_label": u["tz"],
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "is_bot": u["is_bot"],
            "is_admin": False,
            "profile": profile,
        }

    def _consume_trigger(self, args: dict[str, Any]) -> str | None:
        tid = args.get("trigger_id")
        if not tid:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
            )
        trigger = self._triggers.get(tid)
        if trigger is None:
            return None
        if self._trigger_ttl is not None:
            if trigger.used:
                raise SlackError("exchanged_trigger_id")
            if time.monotonic() - trigger.issued > self._trigger_ttl:
                raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger.user

    def _store_view(
        self,
        spec: Any,
        *,
        user: str | None,
        kind: str = "modal",
        existing: dict[str, Any] | None = None,
        previous: str | None = None,
    ) -> dict[str, Any]:
        """Validate a view spec and store it as the view object Slack would return."""
        if not isinstance(spec, dict):
            raise SlackError("invalid_arguments")
        blocks = block_errors(spec.get("blocks", []), VIEW_BLOCK_LIMIT)
        if blocks:
            raise _invalid_blocks(blocks)
        problems = view_errors(spec, kind)
        if problems:
            messages = [f"[ERROR] {p}" for p in problems]
            raise SlackError("invalid_arguments", response_metadata={"messages": messages})
        vid = existing["id"] if existing else f"V{next(self._ids):010d}"
        root = existing["root_view_id"] if existing else vid
        if previous and previous in self._views:
            root = self._views[previous]["root_view_id"]
        view = {
            "id": vid,
            "team_id": self.team_id,
            "type": spec["type"],
            "blocks": _with_ids(copy.deepcopy(spec.get("blocks", []))),
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
            "app_id": self.app_id,
            "external_id": spec.get("external_id", ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self._views[vid] = view
        owner = user if user is not None else self._view_owner.get(vid)
        self._view_owner[vid] = owner
        if owner and kind == "modal":
            self._last_view[owner] = vid
        return copy.deepcopy(view)

    def _existing_view(self, args: dict[str, Any]) -> dict[str, Any]:
        vid, ext = args.get("view_id"), args.get("external_id")
        view = self._views.get(vid) if vid else None
        if view is None and ext:
            view = next((v for v in self._views.values() if v["external_id"] == ext), None)
        if view is None:
            raise SlackError("not_found")
        if args.get("hash") and args["hash"] != view["hash"]:
            raise SlackError("hash_conflict")
        return view

    # ------------------------------------------------------------------ Web API methods

    def _api_api_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"args": args}

    def _api_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self._users[self.bot_user_id]["name"],
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _api_team_info(self, args: dict[str, Any]) -> dict[str, Any]:
        team = {"id": self.team_id, "name": self.team_name, "domain": self.team_domain}
        return {"team": {**team, "email_domain": "example.com", "icon": {}}}

    def _api_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable(args.get("channel"), public_without_joining=True)
        self._check_content(args, need_text=True)
        self._take_channel_token(channel)
        msg = self._post(channel, args)
        return {"channel": channel, "ts": msg.ts, "message": msg.to_slack()}

    def _api_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._postable(args.get("channel"), public_without_joining=False)
        if not args.get("user"):
            raise SlackError("user_not_found")
        self._check_content(args, need_text=True)
        msg = self._post(channel, args, ephemeral_to=args["user"])
        return {"message_ts": msg.ts}

    def _api_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._find(args)
        if msg.user != self.bot_user_id:
            raise SlackError("cant_update_message")
        self._check_content(args, need_text=False)
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in args:  # like Slack, what is left out is kept
                setattr(msg, key, copy.deepcopy(args[key]))
        msg.blocks = _with_ids(msg.blocks)
        msg.edited_ts = self._next_ts()
        return {"channel": msg.channel, "ts": msg.ts, "text": msg.text, "message": msg.to_slack()}

    def _api_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._find(args)
        if msg.user != self.bot_user_id:
            raise SlackError("cant_delete_message")
        self._messages[msg.channel].remove(msg)
        del self._by_ts[(msg.channel, msg.ts)]
        return {"channel": msg.channel, "ts": msg.ts}

    def _api_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        """Lenient about unknown ts: a real workspace holds messages this fake never saw."""
        channel = self._visible(args.get("channel"))[0]
        if not args.get("message_ts"):
            raise SlackError("message_not_found")
        return {"channel": channel, "permalink": self._permalink(channel, str(args["message_ts"]))}

    def _api_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        ids = _user_ids(args)
        if not ids:
            raise SlackError("users_list_not_supplied")
        if len(ids) == 1:
            cid = self.dm_channel(ids[0])
        else:
            cid = "G" + uuid.uuid5(uuid.NAMESPACE_OID, ",".join(sorted(ids))).hex[:10].upper()
            name = "mpdm-" + "--".join(sorted(ids))
            mpim = _Channel(name, is_private=True, is_member=True, is_mpim=True)
            self._channels.setdefault(cid, mpim)
        return {"channel": {"id": cid}, "no_op": True, "already_open": True}

    def _api_conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        """Public channels only; a private one needs a person's invitation."""
        cid, kind = self._conversation(args.get("channel"))
        if kind != "public":
            raise SlackError("method_not_supported_for_channel_type")
        info = self._channels[cid]
        if info.is_archived:
            raise SlackError("is_archived")
        already, info.is_member = info.is_member, True
        warning = {"warning": "already_in_channel"} if already else {}
        return {"channel": self._channel_info(cid), **warning}

    def _api_conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._channel_info(self._visible(args.get("channel"))[0])}

    def _api_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable(args.get("channel"))[0]
        msgs = [m for m in self._messages.get(channel, []) if not m.is_reply or m.reply_broadcast]
        oldest, latest = float(args.get("oldest") or 0), float(args.get("latest") or math.inf)
        inclusive = bool(_flag(args.get("inclusive")))
        msgs = [
            m
            for m in msgs
            if (oldest <= float(m.ts) <= latest if inclusive else oldest < float(m.ts) < latest)
        ]
        return _page(list(reversed(msgs)), args)

    def _api_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._readable(args.get("channel"))[0]
        ts = str(args.get("ts"))
        parent = self._by_ts.get((channel, ts))
        replies = [m for m in self._messages.get(channel, []) if m.is_reply and m.thread_ts == ts]
        if parent is None and not replies:
            raise SlackError("thread_not_found")
        return _page(([parent] if parent else []) + replies, args)

    def _api_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("user") not in self._users:
            raise SlackError("user_not_found")
        return {"user": self._user_obj(args["user"])}

    def _api_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._consume_trigger(args)
        return {"view": self._store_view(args.get("view"), user=user)}

    def _api_views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._consume_trigger(args)
        previous = self._last_view.get(user) if user else None
        return {"view": self._store_view(args.get("view"), user=user, previous=previous)}

    def _api_views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view = self._existing_view(args)
        kind = "home" if view["type"] == "home" else "modal"
        return {"view": self._store_view(args.get("view"), user=None, kind=kind, existing=view)}

    def _api_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = args.get("user_id")
        if not user:
            raise SlackError("invalid_arguments")
        current = self._views.get(self._home.get(user, ""))
        if current and args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        view = self._store_view(args.get("view"), user=user, kind="home", existing=current)
        self._home[user] = view["id"]
        return {"view": view}

    def _api_reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self._find(args, "timestamp")
        users = msg.reactions.setdefault(str(args.get("name")), [])
        if self.bot_user_id in users:
            raise SlackError("already_reacted")
        users.append(self.bot_user_id)
        return {}

    def _api_files_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        raise SlackError("method_deprecated")  # Slack retired v1 uploads; use files_upload_v2

    def _api_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            raise SlackError("invalid_arguments")
        fid = self._file_id(str(args["filename"]))
        self._files[fid] = FakeFile(
            id=fid,
            filename=args["filename"],
            length=int(args["length"]),
            alt_txt=args.get("alt_txt"),
        )
        return {"upload_url": f"{self.base}/upload/{fid}", "file_id": fid}

    def _upload(self, args: dict[str, Any]) -> dict[str, Any]:
        f = self._files.get(args["file_id"])
        if f is None:
            raise SlackError("file_not_found", status=404)
        f.content = args["content"]
        return {}

    def _api_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        items = args.get("files")
        if not isinstance(items, list) or not items:
            raise SlackError("invalid_arguments")
        channel = args.get("channel_id") or (args.get("channels") or "").split(",")[0] or None
        if channel:  # sharing into a channel needs membership, like reading it
            channel = self._readable(channel)[0]
            if channel in self._channels and self._channels[channel].is_archived:
                raise SlackError("is_archived")
        # The share message may carry blocks (a JSON string); Slack ignores them when an
        # initial_comment is given, and refuses invalid ones as chat.postMessage does.
        blocks = None if args.get("initial_comment") else args.get("blocks")
        if blocks is not None:
            self._check_content({"blocks": blocks}, need_text=False)
        done: list[dict[str, Any]] = []
        for item in items:
            f = self._files.get(item.get("id", ""))
            if f is None or f.content is None:
                raise SlackError("file_not_found")
            f.title = item.get("title") or f.filename
            f.channel, f.thread_ts, f.completed = channel, args.get("thread_ts"), True
            f.initial_comment = args.get("initial_comment")
            done.append(self._file_obj(f))
        if channel:
            post = {
                "text": args.get("initial_comment") or "",
                "thread_ts": args.get("thread_ts"),
                "blocks": blocks,
            }
            self._post(channel, post, files=done)
        return {"files": done}

    def _file_obj(self, f: FakeFile) -> dict[str, Any]:
        return {
            "id": f.id,
            "name": f.filename,
            "title": f.title,
            "size": len(f.content or b""),
            "alt_txt": f.alt_txt,
            "user": self.bot_user_id,
            "url_private": f"{self.base}/files/{f.id}/{f.filename}",
            "permalink": f"https://fake.slack.com/files/{self.bot_user_id}/{f.id}/{f.filename}",
            "channels": [f.channel] if f.channel else [],
        }

    def _respond(self, args: dict[str, Any]) -> dict[str, Any]:
        """Apply a response_url post the way Slack shows it: replace/delete/in_channel/ephemeral."""
        ctx = self._response_urls.get(args["response_id"], {})
        channel, user, ts = ctx.get("channel"), ctx.get("user"), ctx.get("message_ts")
        original = self._by_ts.get((channel, ts)) if channel and ts else None
        if _flag(args.get("delete_original")) and original is not None:
            self._messages[original.channel].remove(original)
            del self._by_ts[(original.channel, original.ts)]
        elif _flag(args.get("replace_original")) and original is not None:
            for key in ("text", "blocks", "attachments"):
                if key in args:
                    setattr(original, key, copy.deepcopy(args[key]))
            original.blocks = _with_ids(original.blocks)
            original.edited_ts = self._next_ts()
        elif args.get("response_type") == "in_channel" and channel:
            self._post(channel, args)
        else:
            self._post(channel or "", args, ephemeral_to=user or "")
        return {}


# ---------------------------------------------------------------------- Block Kit sanity


def _text_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


def _element_errors(el: Any, where: str, action_ids: set[str]) -> list[str]:
    if not isinstance(el, dict) or "type" not in el:
        return [f"missing required field: type [json-pointer:{where}]"]
    errs = []
    aid = el.get("action_id")
    if aid is not None:
        if len(aid) > 255:
            errs.append(f"must be less than 256 characters [json-pointer:{where}/action_id]")
        if aid in action_ids:
            errs.append(f"duplicate action_id {aid!r} [json-pointer:{where}/action_id]")
        action_ids.add(aid)
    if el["type"] == "button" and _text_len(el.get("text")) > 75:
        errs.append(f"must be less than 76 characters [json-pointer:{where}/text]")
    return errs


def block_errors(blocks: Any, limit: int) -> list[str]:
    """The Block Kit limits Slack enforces that apps most often trip; [] when fine."""
    if not isinstance(blocks, list):
        return ["blocks must be an array [json-pointer:/blocks]"]
    errs = []
    if len(blocks) > limit:
        errs.append(f"no more than {limit} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, b in enumerate(blocks):
        where = f"/blocks/{i}"
        action_ids: set[str] = set()  # Slack wants action_ids unique per block, not per view
        if not isinstance(b, dict) or "type" not in b:
            errs.append(f"missing required field: type [json-pointer:{where}]")
            continue
        bid = b.get("block_id")
        if bid is not None:
            if len(bid) > 255 or bid in block_ids:
                errs.append(f"invalid or duplicate block_id {bid!r} [json-pointer:{where}]")
            block_ids.add(bid)
        kind = b["type"]
        if kind == "header" and _text_len(b.get("text")) > 150:
            errs.append(f"must be less than 151 characters [json-pointer:{where}/text]")
        if kind == "section":
            fields = b.get("fields") or []
            if not b.get("text") and not fields:
                errs.append(f"must provide text or fields [json-pointer:{where}]")
            if _text_len(b.get("text")) > 3000:
                errs.append(f"must be less than 3001 characters [json-pointer:{where}/text]")
            if len(fields) > 10 or any(_text_len(f) > 2000 for f in fields):
                errs.append(f"at most 10 fields of 2000 characters [json-pointer:{where}/fields]")
            if "accessory" in b:
                errs += _element_errors(b["accessory"], f"{where}/accessory", action_ids)
        if kind == "actions":
            for j, el in enumerate(b.get("elements") or []):
                errs += _element_errors(el, f"{where}/elements/{j}", action_ids)
        if kind == "input":
            errs += _element_errors(b.get("element"), f"{where}/element", action_ids)
    return errs


def view_errors(view: dict[str, Any], kind: str) -> list[str]:
    """View-level problems (blocks are checked by ``block_errors``)."""
    errs = []
    if view.get("type") != kind:
        errs.append(f"view type must be {kind!r}")
    if kind == "modal" and not view.get("title"):
        errs.append("missing required field: title")
    for key in ("title", "submit", "close"):
        if _text_len(view.get(key)) > 24:
            errs.append(f"{key} must be less than 25 characters")
    if len(view.get("private_metadata", "")) > 3000:
        errs.append("private_metadata must be less than 3001 characters")
    if len(view.get("callback_id", "")) > 255:
        errs.append("callback_id must be less than 256 characters")
    return errs


def _invalid_blocks(errors: list[str]) -> SlackError:
    return SlackError(
        "invalid_blocks",
        errors=errors,
        response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
    )


def _with_ids(blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Add the block_id/action_id values Slack generates when an app leaves them out.

    Why: an app that forgets an action_id gets a random one from Slack and its listener never
    matches; the fake reproduces that instead of hiding it.
    """
    for b in blocks or []:
        if not isinstance(b, dict):
            continue
        b.setdefault("block_id", uuid.uuid4().hex[:5])
        elements = [b.get("accessory"), b.get("element"), *(b.get("elements") or [])]
        for el in elements:
            if isinstance(el, dict) and el.get("type") in _INTERACTIVE:
                el.setdefault("action_id", uuid.uuid4().hex[:5])
    return blocks


_INTERACTIVE = frozenset(
    {
        "button", "checkboxes", "datepicker", "datetimepicker", "email_text_input",
        "external_select", "multi_external_select", "multi_static_select", "multi_users_select",
        "multi_conversations_select", "multi_channels_select", "number_input", "overflow",
        "plain_text_input", "radio_buttons", "rich_text_input", "static_select", "timepicker",
        "url_text_input", "users_select", "conversations_select", "channels_select",
    }
)  # fmt: skip


# ---------------------------------------------------------------------- request parsing


def _raise(error: str) -> dict[str, Any]:
    raise SlackError(error)


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def _flag(value: Any) -> bool | None:
    """Slack booleans arrive as JSON true/false or form "1"/"0"/"true"/"false"."""
    if value is None or isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes")


def _parse_body(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    """Query string, then JSON, form or multipart body; JSON-valued form args decoded."""
    args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    ctype = content_type.lower()
    if ctype.startswith("application/json"):
        data = json.loads(body or b"{}")
        if not isinstance(data, dict):
            raise ValueError("JSON body must be an object")
        args.update(data)
    elif ctype.startswith("multipart/form-data"):
        args.update(_parse_multipart(content_type, body))
    elif body:
        args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    for key in JSON_ARGS & args.keys():
        value = args[key]
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            args[key] = json.loads(value)
    return args


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    out: dict[str, Any] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if not isinstance(name, str) or not isinstance(payload, bytes):
            raise ValueError("multipart parts must be plain named fields")
        out[name] = payload if part.get_filename() else payload.decode("utf-8")
    return out


def _user_ids(args: dict[str, Any]) -> list[str]:
    users = args.get("users") or ""
    return users if isinstance(users, list) else [u for u in users.split(",") if u]


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
