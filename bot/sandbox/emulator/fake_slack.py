"""A fake Slack Web API served over real HTTP on loopback: the facade tests and the demo use.

Why: the real ``slack_sdk.WebClient`` (and Bolt on top of it) is pointed at it with ``base_url``,
so tests and ``escbot demo`` exercise the real client — body encoding, 429 handling, retry
handlers, files_upload_v2's three steps — instead of a mock that agrees with our own mistakes.

``FakeSlack`` only wires the parts together and keeps the one API tests know:

- ``workspace.Workspace``: the state (users, channels, messages, views, files) and its lock;
- ``rules/``: Slack's rules, always on (docs/architecture.md, "The emulator's rules");
- ``api/``: one module per Web API area, registered in one table (``endpoints``);
- ``dispatch`` and ``http_server``: requests in; answers and recorded calls out;
- ``faults``: rate limits, outages and errors switched on at runtime;
- ``workspace_admin``: channels, members, membership and scopes changed outside the API;
- ``gestures``: Slack's side of a person's gesture (trigger_ids, response_urls, events);
- ``inspection``: what tests read back, and waiting for it.

Most of ``FakeSlack``'s methods are those parts' own, bound in ``__init__`` (instance
attributes: a subclass changes one by changing the part, not by defining a method).

Rate limits and ``latency`` use wall time (clients really sleep); ``ts`` values and
``Call.time`` follow the injected clock so they line up with the app's notion of "now".
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

from bot.core.clock import Clock
from bot.sandbox.emulator import api
from bot.sandbox.emulator.dispatch import Dispatcher
from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.faults import Faults
from bot.sandbox.emulator.gestures import Gestures
from bot.sandbox.emulator.http_server import HttpServer
from bot.sandbox.emulator.inspection import Inspector
from bot.sandbox.emulator.model import Call, FakeFile, Message
from bot.sandbox.emulator.rules.blockkit import block_errors, view_errors
from bot.sandbox.emulator.socket_mode import ACK_TIMEOUT, SocketModeServer
from bot.sandbox.emulator.workspace import Workspace
from bot.sandbox.emulator.workspace_admin import WorkspaceAdmin

__all__ = [
    "Call",
    "FakeFile",
    "FakeSlack",
    "Message",
    "SlackError",
    "block_errors",
    "view_errors",
]


class FakeSlack:
    """A fake Slack Web API server; give ``url`` to ``WebClient(base_url=...)``."""

    app_id = Workspace.app_id
    bot_id = Workspace.bot_id
    team_name = Workspace.team_name
    team_domain = Workspace.team_domain

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
        self._ws = ws = Workspace(
            clock=clock,
            team_id=team_id,
            bot_user_id=bot_user_id,
            scopes=scopes,
            events=events,
            seed=seed,
        )
        self._faults = faults = Faults()
        self._dispatch = Dispatcher(ws, api.endpoints(), faults)
        self._server: HttpServer | None = None
        self._inspect = inspect = Inspector(ws)
        admin, gestures = WorkspaceAdmin(ws), Gestures(ws)
        # The workspace as people and admins change it (workspace_admin.py).
        self.add_user = admin.add_user
        self.add_channel = admin.add_channel
        self.invite = admin.invite
        self.kick = admin.kick
        self.archive = admin.archive
        self.is_member = admin.is_member
        self.add_message = admin.add_message
        self.set_scopes = admin.set_scopes
        self.grant = admin.grant
        self.revoke = admin.revoke
        self.deactivate = admin.deactivate
        # Slack's side of a person's gesture, for SlackUser (gestures.py).
        self.register_trigger = gestures.register_trigger
        self.enforce_trigger_expiry = gestures.enforce_trigger_expiry
        self.new_response_url = gestures.new_response_url
        self.response_user = gestures.response_user
        self.add_ephemeral = gestures.add_ephemeral
        self.accept_view_response = gestures.accept_view_response
        self.message_event = gestures.message_event
        self.delivers = gestures.delivers
        self.channel_type = gestures.channel_type
        self.channel_name = gestures.channel_name
        self.dm_channel = ws.dm_channel
        # Faults to switch on (faults.py).
        self.fail = faults.fail
        self.lose_answers = faults.lose_answers
        self.outage = faults.outage
        self.fail_ratio = faults.fail_ratio
        # What tests read back and wait for (inspection.py).
        self.calls_to = inspect.calls_to
        self.mark = inspect.mark
        self.misplaced_unfurls = inspect.misplaced_unfurls
        self.messages = inspect.messages
        self.thread = inspect.thread
        self.message = inspect.message
        self.dms = inspect.dms
        self.ephemerals = inspect.ephemerals
        self.view = inspect.view
        self.last_view = inspect.last_view
        self.home_view = inspect.home_view
        self.wait_until = inspect.wait_until
        self.wait_for = inspect.wait_for

    @property
    def clock(self) -> Clock | None:
        return self._ws.clock

    @property
    def team_id(self) -> str:
        return self._ws.team_id

    @property
    def bot_user_id(self) -> str:
        return self._ws.bot_user_id

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        """Serve on a daemon thread; returns self so ``FakeSlack().start()`` reads well."""
        if self._server is None:
            self._server = HttpServer(self.host, self.port, self._dispatch)
            self.port = self._server.port
            self._ws.base = self.base
        return self

    def stop(self) -> None:
        if self._ws.socket is not None:
            self._ws.socket.stop()
            self._ws.socket = None
        if self._server is not None:
            self._server.stop()
            self._server = None
            self._ws.base = ""

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
        with self._ws.changed:
            self._ws.reset()
            self._faults.reset()
            self._ws.changed.notify_all()

    # ------------------------------------------------------------------ scopes

    @property
    def scopes(self) -> frozenset[str]:
        """The bot token's scopes, as ``x-oauth-scopes`` reports them."""
        with self._ws.lock:
            return self._ws.scopes

    @property
    def used_scopes(self) -> set[str]:
        """The scopes calls and delivered events have really needed since the fake started."""
        with self._ws.lock:
            return set(self._ws.used_scopes)

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
        with self._ws.lock:
            self._ws.app_tokens[app_token] = scopes
            if self._ws.socket is None:
                self._ws.socket = SocketModeServer(
                    self.app_id, self.host, ssl_context=ssl_context, ack_timeout=ack_timeout
                ).start()
            return self._ws.socket

    @property
    def socket(self) -> SocketModeServer:
        """The Socket Mode endpoint (``enable_socket_mode`` first)."""
        if self._ws.socket is None:
            raise RuntimeError("Socket Mode is off: call enable_socket_mode()")
        return self._ws.socket

    def drop_socket(self) -> None:
        """Close the app's Socket Mode connections without warning; it may reconnect."""
        self.socket.drop()

    # ------------------------------------------------------------------ faults and limits

    @property
    def latency(self) -> float:
        """Seconds added to every request (wall time), to make slowness visible."""
        return self._faults.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._faults.latency = seconds

    def clear_faults(self) -> None:
        """Remove injected faults, the outage, the random failure ratio and channel limits."""
        self._faults.clear()
        with self._ws.lock:
            self._ws.limits.clear()

    def enforce_channel_rate(self, per_second: float | None = 1.0, burst: int = 3) -> None:
        """Token-bucket chat.postMessage per channel (Slack allows ~1/s with short bursts).

        ``per_second=None`` turns it off.
        """
        with self._ws.lock:
            self._ws.limits.limit_channels(per_second, burst)

    # ------------------------------------------------------------------ inspection

    @property
    def calls(self) -> list[Call]:
        return self._inspect.calls()

    @property
    def files(self) -> list[FakeFile]:
        return self._inspect.files()
