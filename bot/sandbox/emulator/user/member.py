"""Who sends a request, as every payload tells Slack: the member, team and app, and when.

Why one place: commands, shortcuts, actions, submissions and events all carry the same user
and team objects, a fresh ``action_ts``, and a trigger_id and response_url that Slack issues
(here, the fake: so ``views.open`` knows whose modal it is and a response_url post lands
where the person sees it). The payload builders take a ``Member`` and send through it.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Unpack
from urllib.parse import urlencode

from bot.core.clock import Clock
from bot.sandbox.emulator.fake_slack import FakeSlack
from bot.sandbox.emulator.user.transport import FORM, HttpResponse, Send, SendOptions

VERIFICATION_TOKEN = "fake-verification-token"



class _Stamps:
    """Unique gesture times across every member, whatever its clock (in microseconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_us = 0

    def next(self, now_us: int) -> int:
        with self._lock:
            last = self._last_us
            # a clock standing still (or two gestures in one microsecond): one past the last;
            # a last value far off is another test's clock, and is ignored
            self._last_us = last + 1 if now_us <= last < now_us + 1_000_000 else now_us
            return self._last_us


_STAMPS = _Stamps()


class Member:
    """One workspace member; ``clock`` drives payload times (action_ts, event ts) only.

    ``send`` is ``SlackUser.send``, so a subclass that overrides it (bench's timing user)
    sees every request the payload builders make.
    """

    def __init__(
        self,
        send: Send,
        *,
        user_id: str,
        user_name: str,
        team_id: str,
        fake: FakeSlack | None,
        clock: Clock | None,
    ) -> None:
        self.send = send
        self.user_id = user_id
        self.user_name = user_name
        self.team_id = team_id
        self.fake = fake
        self.clock = clock
        self.api_app_id = fake.app_id if fake else "A0ESCBOT"
        self.bot_user_id = fake.bot_user_id if fake else "U0ESCBOT"
        self._seq = itertools.count(1)

    def send_payload(self, payload: dict[str, Any], **opts: Unpack[SendOptions]) -> HttpResponse:
        """An interactive payload, form-encoded as Slack posts it."""
        return self.send(urlencode({"payload": json.dumps(payload)}), FORM, **opts)

    def now(self) -> float:
        return (self.clock.now() if self.clock else datetime.now(UTC)).timestamp()

    def ts(self) -> str:
        """Slack's ``action_ts``/``event_ts``: unique per gesture, also when a fake clock stands
        still (escbot takes a block action once per user, action_ts, action_id and container)."""
        seconds, micros = divmod(_STAMPS.next(round(self.now() * 1_000_000)), 1_000_000)
        return f"{seconds}.{micros:06d}"

    def trigger(self) -> str:
        """A trigger_id the fake knows is this member's."""
        tid = f"{int(time.time() * 1000)}.{next(self._seq)}.{uuid.uuid4().hex[:24]}"
        if self.fake:
            self.fake.register_trigger(tid, self.user_id)
        return tid

    def response_url(self, channel_id: str | None, message_ts: str | None = None) -> str:
        if self.fake:
            return self.fake.new_response_url(self.user_id, channel_id, message_ts)
        return f"https://hooks.slack.com/commands/{self.team_id}/{next(self._seq)}/x"

    def dm_channel(self) -> str:
        """This member's DM with the bot."""
        return self.fake.dm_channel(self.user_id) if self.fake else "D" + self.user_id[1:]

    def channel(self, channel_id: str) -> dict[str, str]:
        name = self.fake.channel_name(channel_id) if self.fake else channel_id.lower()
        return {"id": channel_id, "name": name}

    def user(self) -> dict[str, str]:
        return {
            "id": self.user_id,
            "username": self.user_name,
            "name": self.user_name,
            "team_id": self.team_id,
        }

    def base(self, kind: str) -> dict[str, Any]:
        """The fields every interactive payload of ``kind`` starts with."""
        return {
            "type": kind,
            "token": VERIFICATION_TOKEN,
            "team": {"id": self.team_id, "domain": "escbot-fake"},
            "user": self.user(),
            "api_app_id": self.api_app_id,
            "is_enterprise_install": False,
            "enterprise": None,
            "trigger_id": self.trigger(),
        }
