"""A "Slack user": sends the signed HTTP requests Slack would send to a running app.

Why: the app's real Bolt stack (signature check, ack, listeners) is exercised over real HTTP,
with payloads shaped like Slack's, and modals are filled in by their visible labels the way a
person fills them — so tests read like what a partner or specialist does.

Signatures use wall time, because Bolt checks ``X-Slack-Request-Timestamp`` against
``time.time()``; the optional ``clock`` only drives payload times (action_ts, event ts).
HTTP goes through the stdlib (``requests`` is not a dependency of escbot); answers come back
as ``HttpResponse``, which offers the ``HttpResponse`` subset tests use.

``transport="socket"`` sends the same requests as Socket Mode envelopes through the fake's
WebSocket endpoint instead (``FakeSlack.enable_socket_mode``), and turns the app's ack into
the same ``HttpResponse``, so one journey runs over both transports.
"""

from __future__ import annotations

import http.client
import itertools
import json
import select
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any, Literal, TypedDict, Unpack
from urllib.parse import urlencode, urlsplit

from slack_sdk.signature import SignatureVerifier

from bot.core.clock import Clock
from bot.sandbox.emulator.fake_slack import FakeSlack, Message

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
VERIFICATION_TOKEN = "fake-verification-token"


class SendOptions(TypedDict, total=False):
    """How to tamper with a request, for negative tests."""

    bad_signature: bool  # sign with the wrong secret
    stale: bool  # timestamp 10 minutes old (Slack's limit is 5)
    retry_num: int  # add X-Slack-Retry-Num / X-Slack-Retry-Reason like an Events API retry
    retry_reason: str


@dataclass
class HttpResponse:
    """The app's answer; the part of ``HttpResponse`` that tests need."""

    status_code: int
    headers: http.client.HTTPMessage
    content: bytes

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class SlackUser:
    """One workspace member talking to the app at ``app_url`` (its /slack/events endpoint)."""

    _ts_lock = threading.Lock()
    _last_us = 0  # the last _ts() of any SlackUser (whatever its clock), in microseconds

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        *,
        user_id: str,
        user_name: str = "",
        team_id: str | None = None,
        fake: FakeSlack | None = None,
        clock: Clock | None = None,
        timeout: float = 10.0,
        transport: Literal["http", "socket"] = "http",
    ) -> None:
        """``team_id`` defaults to the fake's workspace (else ``T0ESCBOT``)."""
        if transport == "socket" and fake is None:
            raise ValueError("transport='socket' needs the fake whose Socket Mode the app uses")
        self.transport = transport
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.user_id = user_id
        self.user_name = user_name or user_id.lower()
        self.team_id = team_id or (fake.team_id if fake else "T0ESCBOT")
        self.fake = fake
        self.clock = clock
        self.timeout = timeout
        self.api_app_id = fake.app_id if fake else "A0ESCBOT"
        self.bot_user_id = fake.bot_user_id if fake else "U0ESCBOT"
        self._path = urlsplit(app_url).path or "/"
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._last: tuple[str, str] | None = None

    # ------------------------------------------------------------------ transport

    def send(self, body: str, content_type: str, **opts: Unpack[SendOptions]) -> HttpResponse:
        """POST ``body`` signed like Slack: HMAC-SHA256 of ``v0:{timestamp}:{body}``.

        Over Socket Mode the body becomes an envelope instead (no signature there).
        """
        if self.transport == "socket":
            return self._send_envelope(body, content_type, **opts)
        ts = str(int(time.time()) - (600 if opts.get("stale") else 0))
        secret = self.signing_secret + ("-wrong" if opts.get("bad_signature") else "")
        signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or "",
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if opts.get("retry_num"):
            headers["X-Slack-Retry-Num"] = str(opts["retry_num"])
            headers["X-Slack-Retry-Reason"] = opts.get("retry_reason", "http_timeout")
        with self._lock:
            self._last = (body, content_type)
        conn = self._connection()
        try:
            conn.request("POST", self._path, body=body.encode(), headers=headers)
            resp = conn.getresponse()
            content = resp.read()
        except Exception:
            conn.close()
            raise
        if resp.will_close:
            conn.close()
        return HttpResponse(resp.status, resp.headers, content)

    def _send_envelope(
        self, body: str, content_type: str, **opts: Unpack[SendOptions]
    ) -> HttpResponse:
        """The request as a Socket Mode envelope; the ack as the HTTP answer it stands for.

        Status 200 with the ack's payload as body; 202 for an event Slack will deliver again
        later; 503 when no connection was open; 504 when no ack came within 3 s.
        """
        if opts.get("bad_signature") or opts.get("stale"):
            raise ValueError("Socket Mode envelopes are not signed: nothing to tamper with")
        assert self.fake is not None  # checked in __init__
        with self._lock:
            self._last = (body, content_type)
        answer = self.fake.socket.request(
            body, content_type, retry_attempt=opts.get("retry_num", 0)
        )
        headers = http.client.HTTPMessage()
        headers["Content-Type"] = "application/json"
        content = b"" if answer.payload is None else json.dumps(answer.payload).encode()
        return HttpResponse(answer.status, headers, content)

    @property
    def last_sent(self) -> tuple[str, str] | None:
        """``(body, content_type)`` of the last request, to deliver it again elsewhere."""
        with self._lock:
            return self._last

    def replay(self, **opts: Unpack[SendOptions]) -> HttpResponse:
        """Send the last request again (freshly signed), e.g. as a Slack retry or double click."""
        with self._lock:
            if self._last is None:
                raise RuntimeError("nothing sent yet")
            body, content_type = self._last
        return self.send(body, content_type, **opts)

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()  # a later request on it simply reconnects

    def __enter__(self) -> SlackUser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self) -> http.client.HTTPConnection:
        """A kept-alive connection per thread (tests fire concurrent clicks).

        One the server has closed while idle reads as EOF; it is replaced before use, so a
        request is never sent twice.
        """
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None and conn.sock is not None:
            readable, _, _ = select.select([conn.sock], [], [], 0)
            if readable:
                conn.close()
        if conn is None:
            url = urlsplit(self.app_url)
            secure = url.scheme == "https"
            cls = http.client.HTTPSConnection if secure else http.client.HTTPConnection
            conn = self._local.conn = cls(url.netloc, timeout=self.timeout)
            with self._lock:
                self._connections.append(conn)
        return conn

    def _payload(self, payload: dict[str, Any], **opts: Unpack[SendOptions]) -> HttpResponse:
        return self.send(urlencode({"payload": json.dumps(payload)}), FORM, **opts)

    # ------------------------------------------------------------------ shared payload parts

    def _now(self) -> float:
        return (self.clock.now() if self.clock else datetime.now(UTC)).timestamp()

    def _ts(self) -> str:
        """Slack's ``action_ts``/``event_ts``: unique per gesture, also when a fake clock stands
        still (escbot takes a block action once per user, action_ts, action_id and container)."""
        now = round(self._now() * 1_000_000)
        with SlackUser._ts_lock:
            last = SlackUser._last_us
            # a clock standing still (or two gestures in one microsecond): one past the last;
            # a last value far off is another test's clock, and is ignored
            SlackUser._last_us = last + 1 if now <= last < now + 1_000_000 else now
            seconds, micros = divmod(SlackUser._last_us, 1_000_000)
            return f"{seconds}.{micros:06d}"

    def _trigger(self) -> str:
        tid = f"{int(time.time() * 1000)}.{next(self._seq)}.{uuid.uuid4().hex[:24]}"
        if self.fake:
            self.fake.register_trigger(tid, self.user_id)
        return tid

    def _response_url(self, channel_id: str | None, message_ts: str | None = None) -> str:
        if self.fake:
            return self.fake.new_response_url(self.user_id, channel_id, message_ts)
        return f"https://hooks.slack.com/commands/{self.team_id}/{next(self._seq)}/x"

    def _channel(self, channel_id: str) -> dict[str, str]:
        name = self.fake.channel_name(channel_id) if self.fake else channel_id.lower()
        return {"id": channel_id, "name": name}

    def _user(self) -> dict[str, str]:
        return {
            "id": self.user_id,
            "username": self.user_name,
            "name": self.user_name,
            "team_id": self.team_id,
        }

    def _base(self, kind: str) -> dict[str, Any]:
        return {
            "type": kind,
            "token": VERIFICATION_TOKEN,
            "team": {"id": self.team_id, "domain": "escbot-fake"},
            "user": self._user(),
            "api_app_id": self.api_app_id,
            "is_enterprise_install": False,
            "enterprise": None,
            "trigger_id": self._trigger(),
        }

    # ------------------------------------------------------------------ commands & shortcuts

    def command(
        self,
        command: str,
        text: str = "",
        channel_id: str = "C0INTAKE",
        **opts: Unpack[SendOptions],
    ) -> HttpResponse:
        """A slash command; a non-empty ack body is shown to the user (recorded in the fake)."""
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": "escbot-fake",
            "channel_id": channel_id,
            "channel_name": self._channel(channel_id)["name"],
            "user_id": self.user_id,
            "user_name": self.user_name,
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_url(channel_id),
            "trigger_id": self._trigger(),
        }
        resp = self.send(urlencode(fields), FORM, **opts)
        self._show_ack(resp, channel_id)
        return resp

    def _show_ack(self, resp: HttpResponse, channel_id: str) -> None:
        if self.fake is None or resp.status_code != 200 or not resp.content:
            return
        try:
            body = resp.json()
        except ValueError:
            body = {"text": resp.text}
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return
        text, blocks = body.get("text"), body.get("blocks")
        if body.get("response_type") == "in_channel":
            bot = self.fake.bot_user_id
            self.fake.add_message(channel_id, text or "", user=bot, blocks=blocks)
        else:
            self.fake.add_ephemeral(self.user_id, channel_id, text, blocks)

    def message_shortcut(
        self,
        callback_id: str,
        message: dict[str, Any] | Message,
        channel_id: str,
        **opts: Unpack[SendOptions],
    ) -> HttpResponse:
        """A message shortcut on ``message``; the fake learns the message if it didn't know it."""
        msg = message.to_slack() if isinstance(message, Message) else dict(message)
        msg.setdefault("type", "message")
        msg.setdefault("user", self.user_id)
        if self.fake and (not msg.get("ts") or not self.fake.message(channel_id, msg["ts"])):
            known = self.fake.add_message(
                channel_id, msg.get("text", ""), user=msg["user"], ts=msg.get("ts")
            )
            msg["ts"] = known.ts
        msg.setdefault("ts", self._ts())
        payload = self._base("message_action") | {
            "callback_id": callback_id,
            "action_ts": self._ts(),
            "channel": self._channel(channel_id),
            "message_ts": msg["ts"],
            "message": msg,
            "response_url": self._response_url(channel_id, msg["ts"]),
        }
        return self._payload(payload, **opts)

    def global_shortcut(self, callback_id: str, **opts: Unpack[SendOptions]) -> HttpResponse:
        payload = self._base("shortcut") | {"callback_id": callback_id, "action_ts": self._ts()}
        return self._payload(payload, **opts)

    # ------------------------------------------------------------------ modals

    def submit_view(
        self,
        view: dict[str, Any] | None,
        values_by_label: dict[str, Any] | None = None,
        *,
        enforce_required: bool = True,
        **opts: Unpack[SendOptions],
    ) -> HttpResponse:
        """Fill the modal's inputs by label text and submit it (a ``view_submission``).

        Required inputs left empty raise, as Slack's client would not submit them; pass
        ``enforce_required=False`` to send anyway. A ``response_action`` of update/push in the
        ack is applied to the fake, so ``fake.last_view(user)`` shows the next step.
        """
        if view is None:
            raise ValueError("no view to submit (did the app open one? fake.last_view was None)")
        state = view_state(view, values_by_label or {}, enforce_required=enforce_required)
        submitted = _view_for_payload(view) | {"state": {"values": state}}
        payload = self._base("view_submission") | {"view": submitted, "response_urls": []}
        resp = self._payload(payload, **opts)
        if self.fake and resp.status_code == 200 and resp.content:
            try:
                body = resp.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                self.fake.accept_view_response(self.user_id, submitted["id"], body)
        return resp

    # ------------------------------------------------------------------ block actions

    def click(
        self,
        message_or_view: dict[str, Any] | Message,
        button_text: str,
        *,
        channel_id: str | None = None,
        message_ts: str | None = None,
        **opts: Unpack[SendOptions],
    ) -> HttpResponse:
        """Click the button whose visible text is ``button_text`` (a ``block_actions``); if
        no button shows it, choose the overflow menu (⋯) item that does, as a person would."""
        target = _as_target(message_or_view)
        buttons = [(b, el) for b, el in _elements(target) if el.get("type") == "button"]
        try:
            block, el = _pick(buttons, button_text, lambda e: _text(e.get("text")), "button")
        except LookupError:
            menu = [
                (b, el)
                for b, el in _elements(target)
                if el.get("type") == "overflow"
                and any(_text(o.get("text")) == button_text for o in el.get("options", []))
            ]
            if not menu:
                raise
            [(_, overflow), *_] = menu
            return self.select(
                message_or_view,
                str(overflow.get("action_id")),
                button_text,
                channel_id=channel_id,
                message_ts=message_ts,
                **opts,
            )
        action = {
            "type": "button",
            "action_id": el.get("action_id"),
            "block_id": block.get("block_id"),
            "text": el.get("text"),
            "value": el.get("value"),
            "action_ts": self._ts(),
        }
        if "style" in el:
            action["style"] = el["style"]
        return self._block_action(message_or_view, target, action, channel_id, message_ts, **opts)

    def select(
        self,
        message_or_view: dict[str, Any] | Message,
        action_id_or_placeholder: str,
        option: str,
        *,
        channel_id: str | None = None,
        message_ts: str | None = None,
        **opts: Unpack[SendOptions],
    ) -> HttpResponse:
        """Pick ``option`` (text or value; a user id for users_select) in a select or overflow."""
        target = _as_target(message_or_view)
        selects = [(b, el) for b, el in _elements(target) if el.get("type") in _SELECTABLE]

        def names(el: dict[str, Any]) -> str:
            return f"{el.get('action_id')}|{_text(el.get('placeholder'))}"

        block, el = _pick(selects, action_id_or_placeholder, names, "select", exact_part=True)
        action = _element_state(el, option, action_id_or_placeholder) | {
            "action_id": el.get("action_id"),
            "block_id": block.get("block_id"),
            "action_ts": self._ts(),
        }
        if "placeholder" in el:
            action["placeholder"] = el["placeholder"]
        return self._block_action(message_or_view, target, action, channel_id, message_ts, **opts)

    def _block_action(
        self,
        original: dict[str, Any] | Message,
        target: dict[str, Any],
        action: dict[str, Any],
        channel_id: str | None,
        message_ts: str | None,
        **opts: Unpack[SendOptions],
    ) -> HttpResponse:
        payload = self._base("block_actions") | {"actions": [action]}
        if target.get("type") in ("modal", "home"):
            view = _view_for_payload(target)
            view["state"] = {"values": view_state(target, {}, enforce_required=False)}
            payload |= {"container": {"type": "view", "view_id": view["id"]}, "view": view}
            return self._payload(payload, **opts)
        channel = channel_id or target.get("channel")
        ts = message_ts or target.get("ts")
        if not channel or not ts:
            raise ValueError("clicking a message needs its channel and ts (pass a fake Message)")
        ephemeral = isinstance(original, Message) and original.ephemeral_to is not None
        payload |= {
            "container": {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": ephemeral,
            },
            "channel": self._channel(channel),
            "state": {"values": {}},
            "response_url": self._response_url(channel, None if ephemeral else ts),
        }
        if not ephemeral:
            payload["message"] = {k: v for k, v in target.items() if k != "channel"}
        return self._payload(payload, **opts)

    # ------------------------------------------------------------------ Events API

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, **opts: Unpack[SendOptions]
    ) -> HttpResponse:
        """An ``event_callback`` envelope; reuse ``event_id`` (or ``replay``) to mimic a retry."""
        envelope = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": {"event_ts": self._ts(), **event},
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(self._now()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{uuid.uuid4().hex}",
        }
        return self.send(json.dumps(envelope), JSON, **opts)

    def url_verification(self, challenge: str, **opts: Unpack[SendOptions]) -> HttpResponse:
        body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        return self.send(json.dumps(body), JSON, **opts)

    def app_home_opened(self, **opts: Unpack[SendOptions]) -> HttpResponse:
        dm = self.fake.dm_channel(self.user_id) if self.fake else "D" + self.user_id[1:]
        event: dict[str, Any] = {"type": "app_home_opened", "user": self.user_id, "channel": dm}
        event["tab"] = "home"
        home = self.fake.home_view(self.user_id) if self.fake else None
        if home:
            event["view"] = home
        return self.event(event, **opts)

    def message(
        self,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        **opts: Unpack[SendOptions],
    ) -> HttpResponse | None:
        """Post a message as this user (recorded in the fake) and deliver its ``message`` event.

        With a fake, the event goes out only as Slack would send it (``fake.message_event``):
        from a channel the bot is in, or a DM with it. Otherwise nothing reaches the app and
        this returns None.
        """
        if self.fake:
            ts = self.fake.add_message(channel, text, user=self.user_id, thread_ts=thread_ts).ts
            if self.fake.message_event(channel) is None:
                return None
            kind = self.fake.channel_type(channel)
        else:
            ts = self._ts()
            kind = {"D": "im", "G": "group"}.get(channel[:1], "channel")
        event = {
            "type": "message",
            "channel": channel,
            "user": self.user_id,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": kind,
            "team": self.team_id,
            "client_msg_id": str(uuid.uuid4()),
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event, **opts)

    def message_in_thread(
        self, channel: str, thread_ts: str, text: str, **opts: Unpack[SendOptions]
    ) -> HttpResponse | None:
        return self.message(channel, text, thread_ts=thread_ts, **opts)

    def dm(self, text: str, **opts: Unpack[SendOptions]) -> HttpResponse | None:
        """Write to the bot in the DM with it (a ``message.im`` event)."""
        dm = self.fake.dm_channel(self.user_id) if self.fake else "D" + self.user_id[1:]
        return self.message(dm, text, **opts)


# ---------------------------------------------------------------------- view state

_TEXT_INPUTS = frozenset({"plain_text_input", "url_text_input", "email_text_input", "number_input"})
_ONE_OPTION = frozenset({"static_select", "external_select", "radio_buttons", "overflow"})
_MANY_OPTIONS = frozenset({"multi_static_select", "multi_external_select", "checkboxes"})
_SELECTABLE = _ONE_OPTION | {"users_select", "conversations_select", "channels_select"}
#: element type -> (state key, initial-value key); ids and dates pass through as given.
_PLAIN: dict[str, tuple[str, str]] = {
    "users_select": ("selected_user", "initial_user"),
    "multi_users_select": ("selected_users", "initial_users"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
    "rich_text_input": ("rich_text_value", "initial_value"),
}


def view_state(
    view: dict[str, Any], values_by_label: dict[str, Any], *, enforce_required: bool = True
) -> dict[str, dict[str, Any]]:
    """``state.values`` as Slack builds it, filling inputs by label (or block_id).

    Unfilled inputs keep their initial value, else null; unknown labels raise naming them.
    """
    inputs = [b for b in view.get("blocks", []) if b.get("type") == "input" and "element" in b]
    by_label = {_text(b.get("label")): b for b in inputs}
    chosen: dict[int, Any] = {}
    for label, value in values_by_label.items():
        block = _lookup(by_label, inputs, label)
        chosen[id(block)] = value
    state: dict[str, dict[str, Any]] = {}
    for i, block in enumerate(inputs):
        el, label = block["element"], _text(block.get("label"))
        value = chosen.get(id(block), _initial(el))
        entry = _element_state(el, value, label)
        empty = all(v in (None, "", []) for k, v in entry.items() if k != "type")
        if empty and enforce_required and not block.get("optional", False):
            raise ValueError(f"required input {label!r} is empty; Slack would not submit the modal")
        block_id = block.get("block_id") or f"input-{i}"
        action_id = el.get("action_id") or f"action-{i}"
        state.setdefault(block_id, {})[action_id] = entry
    return state


def _lookup(by_label: dict[str, dict[str, Any]], inputs: list[dict[str, Any]], key: str) -> Any:
    if key in by_label:
        return by_label[key]
    folded = {k.casefold(): b for k, b in by_label.items()}
    if key.casefold() in folded:
        return folded[key.casefold()]
    for b in inputs:
        if b.get("block_id") == key:
            return b
    raise LookupError(f"no input labelled {key!r} in the view; labels are {list(by_label)}")


def _initial(el: dict[str, Any]) -> Any:
    kind = el.get("type", "")
    if kind in _PLAIN:
        return el.get(_PLAIN[kind][1])
    if kind in _ONE_OPTION:
        return el.get("initial_option")
    if kind in _MANY_OPTIONS:
        return el.get("initial_options")
    return el.get("initial_value")


def _element_state(el: dict[str, Any], value: Any, label: str) -> dict[str, Any]:
    """One element's entry in ``state.values`` (also an action's selection)."""
    kind = el.get("type", "")
    if kind in _TEXT_INPUTS:
        return {"type": kind, "value": None if value is None else str(value)}
    if kind in _ONE_OPTION:
        return {"type": kind, "selected_option": _option(el, value, label) if value else None}
    if kind in _MANY_OPTIONS:
        values = [] if value is None else value if isinstance(value, list | tuple) else [value]
        return {"type": kind, "selected_options": [_option(el, v, label) for v in values]}
    if kind in _PLAIN:
        return {"type": kind, _PLAIN[kind][0]: _plain_value(kind, value)}
    raise ValueError(f"input {label!r}: element type {kind!r} is not supported by the emulator")


def _plain_value(kind: str, value: Any) -> Any:
    if value is None:
        return [] if kind.startswith("multi_") else None
    if kind == "datetimepicker" and isinstance(value, datetime):
        return int(value.timestamp())
    if kind == "timepicker" and isinstance(value, dtime):
        return value.strftime("%H:%M")
    if kind == "datepicker" and isinstance(value, date):
        return value.isoformat()
    if kind == "rich_text_input" and isinstance(value, str):
        text = {"type": "text", "text": value}
        section = {"type": "rich_text_section", "elements": [text]}
        return {"type": "rich_text", "elements": [section]}
    if kind.startswith("multi_") and isinstance(value, str):
        return [value]
    return value


def _options(el: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from el.get("options") or []
    for group in el.get("option_groups") or []:
        yield from group.get("options") or []


def _option(el: dict[str, Any], wanted: Any, label: str) -> dict[str, Any]:
    """The option whose text or value is ``wanted`` (a dict is taken as the option itself)."""
    if isinstance(wanted, dict):
        return wanted
    options = list(_options(el))
    if not options and el.get("type", "").endswith("external_select"):
        return {"text": {"type": "plain_text", "text": str(wanted)}, "value": str(wanted)}
    want = str(wanted)
    for fold in (False, True):
        for opt in options:
            names = {_text(opt.get("text")), str(opt.get("value", ""))}
            if want in names or (fold and want.casefold() in {n.casefold() for n in names}):
                return opt
    shown = [_text(o.get("text")) for o in options]
    raise LookupError(f"input {label!r} has no option {wanted!r}; options are {shown}")


# ---------------------------------------------------------------------- finding elements


def _text(obj: Any) -> str:
    return str(obj.get("text", "")) if isinstance(obj, dict) else str(obj or "")


def _as_target(message_or_view: dict[str, Any] | Message) -> dict[str, Any]:
    if isinstance(message_or_view, Message):
        return message_or_view.to_slack() | {"channel": message_or_view.channel}
    return message_or_view


def _elements(target: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(block, element) for section accessories and actions-block elements."""
    for block in target.get("blocks") or []:
        if isinstance(block.get("accessory"), dict):
            yield block, block["accessory"]
        if block.get("type") == "actions":
            for el in block.get("elements") or []:
                yield block, el


def _pick(
    found: list[tuple[dict[str, Any], dict[str, Any]]],
    wanted: str,
    name: Any,
    what: str,
    *,
    exact_part: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Exact name, then case-insensitive, then a unique case-insensitive substring."""
    w = wanted.casefold()
    tests = [
        lambda n: wanted in n.split("|") if exact_part else n == wanted,
        lambda n: w in n.casefold().split("|") if exact_part else n.casefold() == w,
        lambda n: w in n.casefold(),
    ]
    for test in tests:
        hits = [pair for pair in found if test(name(pair[1]))]
        if len(hits) == 1 or (hits and test is not tests[-1]):
            return hits[0]
    raise LookupError(f"no {what} {wanted!r}; available: {[name(el) for _, el in found]}")


def _view_for_payload(view: dict[str, Any]) -> dict[str, Any]:
    """The view object as Slack sends it back, with defaults for hand-built views."""
    defaults = {
        "id": f"V{uuid.uuid4().hex[:10].upper()}",
        "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
        "callback_id": "",
        "private_metadata": "",
        "previous_view_id": None,
        "root_view_id": None,
    }
    return defaults | dict(view)
