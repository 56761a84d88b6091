"""A slash command as Slack posts it, and its ack shown to the person.

Why: Slack shows a non-empty ack body to the person (an ephemeral, or an in-channel message
with ``response_type: in_channel``), with no Web API call; the fake records it so tests see
what the person saw.
"""

from __future__ import annotations

from typing import Unpack
from urllib.parse import urlencode

from bot.sandbox.emulator.user.member import VERIFICATION_TOKEN, Member
from bot.sandbox.emulator.user.transport import FORM, HttpResponse, SendOptions


def command(
    member: Member, command: str, text: str, channel_id: str, **opts: Unpack[SendOptions]
) -> HttpResponse:
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": member.team_id,
        "team_domain": "escbot-fake",
        "channel_id": channel_id,
        "channel_name": member.channel(channel_id)["name"],
        "user_id": member.user_id,
        "user_name": member.user_name,
        "command": command,
        "text": text,
        "api_app_id": member.api_app_id,
        "is_enterprise_install": "false",
        "response_url": member.response_url(channel_id),
        "trigger_id": member.trigger(),
    }
    resp = member.send(urlencode(fields), FORM, **opts)
    _show_ack(member, resp, channel_id)
    return resp


def _show_ack(member: Member, resp: HttpResponse, channel_id: str) -> None:
    fake = member.fake
    if fake is None or resp.status_code != 200 or not resp.content:
        return
    try:
        body = resp.json()
    except ValueError:
        body = {"text": resp.text}
    if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
        return
    text, blocks = body.get("text"), body.get("blocks")
    if body.get("response_type") == "in_channel":
        fake.add_message(channel_id, text or "", user=fake.bot_user_id, blocks=blocks)
    else:
        fake.add_ephemeral(member.user_id, channel_id, text, blocks)
