"""Helpers for the intake tests: a partner going through the /escalate modal over HTTP."""

from __future__ import annotations

import json
import re
from typing import Any

from bot.sandbox.emulator import FakeSlack, HttpResponse, Message, SlackUser

INTAKE = "C06H2KX8ESC"
PARTNERS = "C07PARTNERS"
PARTNER = "U07LEGAL01"
OTHER_PARTNER = "U07COMMS02"
STRANGER = "U07RANDOM9"
SPECIALIST = "U05MAD1LFZ3"
HOSTILE = (
    "<!channel> <@U123> *bold* <https://evil|click> \u202eevil\u202c <!subteam^S1|@team> @here"
)
#: Everything in a rendered message that could ping or link from user text.
FORBIDDEN = ("<!", "<@U123>", "<https://evil", "@here", "\u202e")

#: A partner's usual answers, by label (the rest keep the modal's defaults).
BASIC = {"Your team": "Legal"}


def confirmation(fake: FakeSlack, user: str, since: int = 0) -> Message:
    """The instant confirmation ``user`` saw after submitting: posted through the request's
    response_url (bot.slack.answers), shown as an ephemeral where they typed."""
    fake.wait_for("response_url", since=since)
    return fake.ephemerals(user)[-1]


def open_modal(
    user: SlackUser, fake: FakeSlack, text: str = "", channel: str = PARTNERS
) -> dict[str, Any]:
    mark = fake.mark()
    resp = user.command("/escalate", text=text, channel_id=channel)
    assert resp.status_code == 200, resp.text
    fake.wait_for("views.open", since=mark)
    view = fake.last_view(user.user_id)
    assert view is not None and view["callback_id"] == "escalate_intake"
    return view


def escalate(
    user: SlackUser,
    fake: FakeSlack,
    values: dict[str, Any] | None = None,
    *,
    text: str = "A coordinated hate campaign",
    channel: str = PARTNERS,
    **opts: Any,
) -> HttpResponse:
    """/escalate <text>, fill the modal (BASIC + ``values``) and submit it. When the modal
    closes, the confirmation through the response_url is awaited (delivered or refused), so
    the next response_url a test waits for is its own."""
    view = open_modal(user, fake, text, channel)
    mark = fake.mark()
    resp = user.submit_view(view, {**BASIC, **(values or {})}, **opts)
    if resp.status_code == 200 and not resp.content:
        fake.wait_for(lambda c: c.method == "response_url", since=mark, timeout=10)
    return resp


def card(fake: FakeSlack, key: str) -> Message:
    found = [m for m in fake.messages(INTAKE) if key in json.dumps(m.blocks[:1])]
    assert len(found) == 1, [m.text for m in fake.messages(INTAKE)]
    return found[0]


def visible(payload: Any) -> str:
    """A payload as JSON text with our invisible word joiners removed (what people see)."""
    return json.dumps(payload, ensure_ascii=False).replace("\u2060", "")


def forged(payload: Any) -> list[str]:
    """Pings or links user text could have smuggled into ``payload`` (JSON as sent)."""
    text = json.dumps(payload, ensure_ascii=False)
    text = re.sub(r"<!date\^\d+\^[^|<>]*\|[^<>]*>", "", text)  # ours: no user text inside
    found = [f for f in FORBIDDEN if f in text]
    if re.search(r"<!(channel|here|everyone|subteam)", text):
        found.append("broadcast")
    return found
