"""A "Slack user": sends the signed HTTP requests Slack would send to a running app.

Why: the app's real Bolt stack (signature check, ack, listeners) is exercised over real HTTP,
with payloads shaped like Slack's, and modals are filled in by their visible labels the way a
person fills them — so tests read like what a partner or specialist does.

``SlackUser`` is the facade; its parts live in ``user/``:

- ``transport``: signed HTTP (wall-time signatures, as Bolt checks them) or, with
  ``transport="socket"``, Socket Mode envelopes whose ack comes back as the same
  ``HttpResponse``, so one journey runs over both transports;
- ``member``: who sends (user, team, app) and the parts every payload shares; the optional
  ``clock`` only drives payload times (action_ts, event ts);
- one payload builder per surface: ``commands``, ``shortcuts``, ``view_submission``,
  ``block_actions``, ``events``;
- ``view_state``: modal state filled by label.
"""

from __future__ import annotations

from typing import Any, Literal, Unpack

from bot.core.clock import Clock
from bot.sandbox.emulator.fake_slack import FakeSlack, Message
from bot.sandbox.emulator.user import (
    block_actions,
    commands,
    events,
    shortcuts,
    view_submission,
)
from bot.sandbox.emulator.user.member import Member
from bot.sandbox.emulator.user.transport import HttpResponse, SendOptions, Transport
from bot.sandbox.emulator.user.view_state import view_state

__all__ = ["HttpResponse", "SendOptions", "SlackUser", "view_state"]


class SlackUser:
    """One workspace member talking to the app at ``app_url`` (its /slack/events endpoint)."""

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
        self._transport = Transport(
            app_url, signing_secret, kind=transport, fake=fake, timeout=timeout
        )
        self._member = Member(
            self.send,
            user_id=user_id,
            user_name=user_name or user_id.lower(),
            team_id=team_id or (fake.team_id if fake else "T0ESCBOT"),
            fake=fake,
            clock=clock,
        )
        self.transport = transport
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.user_id = user_id
        self.user_name = self._member.user_name
        self.team_id = self._member.team_id
        self.fake = fake
        self.clock = clock
        self.timeout = timeout
        self.api_app_id = self._member.api_app_id
        self.bot_user_id = self._member.bot_user_id

    # ------------------------------------------------------------------ transport

    def send(self, body: str, content_type: str, **opts: Unpack[SendOptions]) -> HttpResponse:
        """POST ``body`` signed like Slack: HMAC-SHA256 of ``v0:{timestamp}:{body}``.

        Over Socket Mode the body becomes an envelope instead (no signature there). Every
        request goes through here, so a subclass may override it (bench times requests).
        """
        return self._transport.send(body, content_type, **opts)

    @property
    def last_sent(self) -> tuple[str, str] | None:
        """``(body, content_type)`` of the last request, to deliver it again elsewhere."""
        return self._transport.last_sent

    def replay(self, **opts: Unpack[SendOptions]) -> HttpResponse:
        """Send the last request again (freshly signed), e.g. as a Slack retry or double click."""
        last = self._transport.last_sent
        if last is None:
            raise RuntimeError("nothing sent yet")
        return self.send(*last, **opts)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> SlackUser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ commands & shortcuts

    def command(
        self,
        command: str,
        text: str = "",
        channel_id: str = "C0INTAKE",
        **opts: Unpack[SendOptions],
    ) -> HttpResponse:
        """A slash command; a non-empty ack body is shown to the user (recorded in the fake)."""
        return commands.command(self._member, command, text, channel_id, **opts)

    def message_shortcut(
        self,
        callback_id: str,
        message: dict[str, Any] | Message,
        channel_id: str,
        **opts: Unpack[SendOptions],
    ) -> HttpResponse:
        """A message shortcut on ``message``; the fake learns the message if it didn't know it."""
        return shortcuts.message_shortcut(self._member, callback_id, message, channel_id, **opts)

    def global_shortcut(self, callback_id: str, **opts: Unpack[SendOptions]) -> HttpResponse:
        return shortcuts.global_shortcut(self._member, callback_id, **opts)

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
        return view_submission.submit_view(
            self._member, view, values_by_label, enforce_required=enforce_required, **opts
        )

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
        return block_actions.click(
            self._member,
            message_or_view,
            button_text,
            channel_id=channel_id,
            message_ts=message_ts,
            **opts,
        )

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
        return block_actions.select(
            self._member,
            message_or_view,
            action_id_or_placeholder,
            option,
            channel_id=channel_id,
            message_ts=message_ts,
            **opts,
        )

    # ------------------------------------------------------------------ Events API

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, **opts: Unpack[SendOptions]
    ) -> HttpResponse:
        """An ``event_callback`` envelope; reuse ``event_id`` (or ``replay``) to mimic a retry."""
        return events.event(self._member, event, event_id=event_id, **opts)

    def user_change(self, user_id: str, *, deleted: bool = True) -> HttpResponse | None:
        """An admin (de)activates ``user_id`` in the fake; the ``user_change`` event goes out
        only as Slack would send it (subscribed, with ``users:read``), else None."""
        fake = self._member.fake
        assert fake is not None, "user_change needs the fake workspace"
        user = fake.deactivate(user_id, deleted=deleted)
        if not fake.delivers("user_change"):
            return None
        return self.event({"type": "user_change", "user": user})

    def url_verification(self, challenge: str, **opts: Unpack[SendOptions]) -> HttpResponse:
        return events.url_verification(self._member, challenge, **opts)

    def app_home_opened(self, **opts: Unpack[SendOptions]) -> HttpResponse:
        return events.app_home_opened(self._member, **opts)

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
        return events.message(self._member, channel, text, thread_ts=thread_ts, **opts)

    def message_in_thread(
        self, channel: str, thread_ts: str, text: str, **opts: Unpack[SendOptions]
    ) -> HttpResponse | None:
        return self.message(channel, text, thread_ts=thread_ts, **opts)

    def dm(self, text: str, **opts: Unpack[SendOptions]) -> HttpResponse | None:
        """Write to the bot in the DM with it (a ``message.im`` event)."""
        return self.message(self._member.dm_channel(), text, **opts)
