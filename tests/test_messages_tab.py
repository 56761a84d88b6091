"""People can write to escbot: the manifest's Messages tab, pinned to the feature needing it.

The reporter's DM says "reply right here", and ``handlers/events.py`` takes ``message.im``
as their answer; Slack lets people type in an app's Messages tab only when the installed
manifest says so (``features.app_home.messages_tab_read_only_enabled: false``). The fake
installs what ``escbot manifest`` prints, in both modes, and refuses the DM otherwise.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import main
from bot.sandbox.emulator import FakeSlack, GestureRefused, SlackUser
from tests.conftest import CHANNELS
from tests.desk import PARTNER
from tests.test_reporter_answers import ask, dm_text
from tests.test_resolution_http import row, settle


def printed_manifest(*mode: str) -> dict[str, Any]:
    """What ``escbot manifest`` prints, as Slack would read it."""
    result = CliRunner().invoke(main, ["manifest", *mode])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = yaml.safe_load(result.output)
    return data


@pytest.fixture(params=[("--socket-mode",), ("--url", "https://esc.example.org")])
def fake_slack(request, config):  # type: ignore[no-untyped-def]
    """The fake with the app installed from ``escbot manifest``'s output (each mode)."""
    with FakeSlack(
        team_id=config.workspace.team_id or "T0ESCBOT", manifest=printed_manifest(*request.param)
    ) as fake:
        for channel_id, name in CHANNELS.items():
            fake.add_channel(channel_id, name)
        yield fake


def test_a_reporter_answers_in_the_dm_under_the_printed_manifest(  # type: ignore[no-untyped-def]
    escbot, fake_slack, user_factory, clock
) -> None:
    ticket, _ = ask(escbot, fake_slack, user_factory, clock, "Slurs in a group chat")
    assert "right here" in dm_text(fake_slack, PARTNER)  # what the DM invites them to do
    clock.advance(timedelta(minutes=5))
    resp = user_factory(PARTNER).dm("The second account")
    assert resp is not None and resp.status_code == 200
    fake_slack.wait_until(lambda: row(escbot, ticket).status == "acknowledged")
    settle(escbot)


@pytest.mark.parametrize("read_only", [True, False])
def test_the_fake_refuses_a_dm_while_the_messages_tab_is_read_only(read_only: bool) -> None:
    installed = printed_manifest("--socket-mode")
    installed["features"]["app_home"]["messages_tab_read_only_enabled"] = read_only
    with FakeSlack(manifest=installed) as fake:
        user = SlackUser("http://127.0.0.1:9/slack/events", "s", user_id=PARTNER, fake=fake)
        if read_only:
            with pytest.raises(GestureRefused, match="read-only"):
                user.dm("can anyone hear me?")
            assert fake.dms(PARTNER) == [] and fake.messages(fake.dm_channel(PARTNER)) == []
        else:  # writable: the message is posted (nobody listens on port 9: it goes no further)
            with pytest.raises(OSError):
                user.dm("can anyone hear me?")


def test_the_fake_delivers_message_im_only_with_its_subscription_and_im_history() -> None:
    installed = printed_manifest("--socket-mode")
    with FakeSlack(manifest=installed) as fake:
        channel = fake.dm_channel(PARTNER)
        assert fake.message_event(channel) == "message.im"
        fake.revoke("im:history")
        assert fake.message_event(channel) is None
    subscribed = installed["settings"]["event_subscriptions"]
    subscribed["bot_events"] = [e for e in subscribed["bot_events"] if e != "message.im"]
    with FakeSlack(manifest=installed) as fake:
        assert fake.message_event(fake.dm_channel(PARTNER)) is None
