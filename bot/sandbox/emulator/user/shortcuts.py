"""Shortcuts as Slack posts them: on a message (``message_action``) or global (``shortcut``).

Why: a message shortcut carries the message and a response_url for its channel; the fake
must know the message (a person's, posted before the app was there) for the app's later
permalink and thread calls to work, so it is recorded when new.
"""

from __future__ import annotations

from typing import Any, Unpack

from bot.sandbox.emulator.model import Message
from bot.sandbox.emulator.user.member import Member
from bot.sandbox.emulator.user.transport import HttpResponse, SendOptions


def message_shortcut(
    member: Member,
    callback_id: str,
    message: dict[str, Any] | Message,
    channel_id: str,
    **opts: Unpack[SendOptions],
) -> HttpResponse:
    msg = message.to_slack() if isinstance(message, Message) else dict(message)
    msg.setdefault("type", "message")
    msg.setdefault("user", member.user_id)
    fake = member.fake
    if fake and (not msg.get("ts") or not fake.message(channel_id, msg["ts"])):
        text, user = msg.get("text", ""), msg["user"]
        known = fake.add_message(channel_id, text, user=user, ts=msg.get("ts"))
        msg["ts"] = known.ts
    msg.setdefault("ts", member.ts())
    payload = member.base("message_action") | {
        "callback_id": callback_id,
        "action_ts": member.ts(),
        "channel": member.channel(channel_id),
        "message_ts": msg["ts"],
        "message": msg,
        "response_url": member.response_url(channel_id, msg["ts"]),
    }
    return member.send_payload(payload, **opts)


def global_shortcut(
    member: Member, callback_id: str, **opts: Unpack[SendOptions]
) -> HttpResponse:
    payload = member.base("shortcut") | {"callback_id": callback_id, "action_ts": member.ts()}
    return member.send_payload(payload, **opts)
