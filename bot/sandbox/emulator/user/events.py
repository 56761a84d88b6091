"""Events API deliveries: ``event_callback`` envelopes, messages and DMs, App Home opened.

Why: Slack delivers a person's message only where the app may hear it (a channel the bot is
in, a DM with it) and only to a subscribed app with the scope; the message is recorded in
the fake first, so history and threads show it, and the event goes out only if
``fake.message_event`` says Slack would send it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Unpack

from bot.sandbox.emulator.user.member import VERIFICATION_TOKEN, Member
from bot.sandbox.emulator.user.transport import JSON, HttpResponse, SendOptions


def event(
    member: Member,
    event: dict[str, Any],
    *,
    event_id: str | None,
    **opts: Unpack[SendOptions],
) -> HttpResponse:
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": member.team_id,
        "api_app_id": member.api_app_id,
        "event": {"event_ts": member.ts(), **event},
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(member.now()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": member.team_id,
                "user_id": member.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }
    return member.send(json.dumps(envelope), JSON, **opts)


def url_verification(
    member: Member, challenge: str, **opts: Unpack[SendOptions]
) -> HttpResponse:
    body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    return member.send(json.dumps(body), JSON, **opts)


def app_home_opened(member: Member, **opts: Unpack[SendOptions]) -> HttpResponse:
    opened: dict[str, Any] = {
        "type": "app_home_opened",
        "user": member.user_id,
        "channel": member.dm_channel(),
    }
    opened["tab"] = "home"
    home = member.fake.home_view(member.user_id) if member.fake else None
    if home:
        opened["view"] = home
    return event(member, opened, event_id=None, **opts)


def message(
    member: Member,
    channel: str,
    text: str,
    *,
    thread_ts: str | None,
    **opts: Unpack[SendOptions],
) -> HttpResponse | None:
    fake = member.fake
    if fake:
        ts = fake.add_message(channel, text, user=member.user_id, thread_ts=thread_ts).ts
        if fake.message_event(channel) is None:
            return None
        kind = fake.channel_type(channel)
    else:
        ts = member.ts()
        kind = {"D": "im", "G": "group"}.get(channel[:1], "channel")
    posted = {
        "type": "message",
        "channel": channel,
        "user": member.user_id,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": kind,
        "team": member.team_id,
        "client_msg_id": str(uuid.uuid4()),
    }
    if thread_ts:
        posted["thread_ts"] = thread_ts
    return event(member, posted, event_id=None, **opts)
