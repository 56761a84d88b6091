"""The reporter's confirmation shows where they typed, through the request's response_url.

Partners run ``/escalate`` in their own channels, which escbot is not in, so
``chat.postEphemeral`` can't reach them there; the command's response_url can, for 30
minutes and 5 uses. escbot keeps it with the modal (server-side) and uses it once after the
submission; past its life the durable DM is the answer, and nothing is lost.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.sandbox.emulator import FakeSlack
from tests.conftest import CHANNELS
from tests.intake_support import BASIC, PARTNER, PARTNERS, card, open_modal
from tests.outbox_support import drain


@pytest.fixture
def fake_slack(config, clock):  # type: ignore[no-untyped-def]
    """The fake on escbot's clock, so a response_url ages as the test moves time."""
    with FakeSlack(team_id=config.workspace.team_id or "T0ESCBOT", clock=clock) as fake:
        for channel_id, name in CHANNELS.items():
            fake.add_channel(channel_id, name)
        yield fake


def test_the_confirmation_shows_in_a_channel_escbot_is_not_in(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory
) -> None:
    partner = user_factory(PARTNER)
    view = open_modal(partner, fake_slack, "Slurs in a partner's stream")
    assert partner.submit_view(view, BASIC).content == b""
    call = fake_slack.wait_for("response_url")
    assert call.args["response_type"] == "ephemeral"
    [shown] = fake_slack.ephemerals(PARTNER)
    assert not fake_slack.is_member(PARTNERS) and shown.channel == PARTNERS
    assert "ESC-1" in json.dumps(shown.blocks) and "owner" in json.dumps(shown.blocks)
    assert fake_slack.calls_to("chat.postEphemeral") == []
    assert drain(escbot.services.outbox)
    assert any("ESC-1" in (m.text or "") for m in fake_slack.dms(PARTNER))  # durable, as ever


def test_past_its_30_minutes_the_dm_answers_instead(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory, clock
) -> None:
    partner = user_factory(PARTNER)
    view = open_modal(partner, fake_slack, "Threats under a video")
    clock.advance(timedelta(minutes=31))  # the partner took their time over the form
    assert partner.submit_view(view, BASIC).content == b""
    assert drain(escbot.services.outbox)
    posted = card(fake_slack, "ESC-1")
    [dm] = [m for m in fake_slack.dms(PARTNER) if "ESC-1" in (m.text or "")]
    assert f"p{posted.ts.replace('.', '')}" in json.dumps(dm.blocks)  # key, owner and link
    assert fake_slack.ephemerals(PARTNER) == []
    assert [c for c in fake_slack.calls if c.method in ("response_url", "chat.postEphemeral")] == []


def test_the_kept_url_is_used_once_and_only_for_its_opener(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory
) -> None:
    urls, now = escbot.services.response_urls, escbot.services.clock.now()
    urls.keep("V1", "https://hooks.example/1", PARTNER, PARTNERS, now)
    assert urls.take("V1", "U0SOMEONE") is None  # not theirs: and forgotten
    assert urls.take("V1", PARTNER) is None
    urls.keep("V2", "https://hooks.example/2", PARTNER, PARTNERS, now)
    kept = urls.take("V2", PARTNER)
    assert kept is not None and kept.url == "https://hooks.example/2"
    assert urls.take("V2", PARTNER) is None
