"""The emulator's access rules (rules/access.py) as decisions over a bare Workspace.

tests/test_emulator_rules.py holds the same rules end to end through slack_sdk and Bolt;
these pin each decision (and the exact error Slack gives) without a server.
"""

from __future__ import annotations

import pytest

from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.model import Channel
from bot.sandbox.emulator.rules import access
from bot.sandbox.emulator.workspace import Workspace
from bot.slack.manifest import BOT_SCOPES

PUBLIC, PRIVATE, ARCHIVED = "C0PUBLIC", "G0SECRET", "C0OLD"


@pytest.fixture
def ws() -> Workspace:
    ws = Workspace()
    ws.channels[PUBLIC] = Channel("public")
    ws.channels[PRIVATE] = Channel("secret", is_private=True)
    ws.channels[ARCHIVED] = Channel("old", is_archived=True, is_member=True)
    return ws


def error(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SlackError) as e:
        call()
    return e.value.error


def test_bot_token_needs_a_token_and_an_xox_prefix(ws: Workspace) -> None:
    assert error(lambda: access.check_token(ws, "bot", None)) == "not_authed"
    assert error(lambda: access.check_token(ws, "bot", "xapp-1-A-1-x")) == "invalid_auth"
    access.check_token(ws, "bot", "xoxb-1")


def test_app_token_is_refused_as_slack_refuses_it(ws: Workspace) -> None:
    assert error(lambda: access.check_token(ws, "app", "")) == "not_authed"
    assert error(lambda: access.check_token(ws, "app", "xoxb-1")) == "not_allowed_token_type"
    ws.app_tokens["xapp-known"] = ("connections:write",)
    # a known token is still invalid while Socket Mode is off (no server to connect to)
    assert error(lambda: access.check_token(ws, "app", "xapp-known")) == "invalid_auth"
    assert error(lambda: access.check_token(ws, "app", "xapp-unknown")) == "invalid_auth"


def test_scope_follows_the_conversation_kind_and_is_noted(ws: Workspace) -> None:
    ws.scopes = frozenset({"channels:history"})
    access.check_scope(ws, "conversations.history", {"channel": PUBLIC})
    assert ws.used_scopes == {"channels:history"}
    with pytest.raises(SlackError) as e:
        access.check_scope(ws, "conversations.history", {"channel": "D0ALICE"})
    assert e.value.error == "missing_scope"
    assert e.value.extra == {"needed": "im:history", "provided": "channels:history"}


def test_conversations_open_needs_im_or_mpim_write_by_how_many_users(ws: Workspace) -> None:
    ws.scopes = frozenset({"im:write"})
    access.check_scope(ws, "conversations.open", {"users": "U1"})
    with pytest.raises(SlackError) as e:
        access.check_scope(ws, "conversations.open", {"users": "U1,U2"})
    assert e.value.extra["needed"] == "mpim:write"


def test_methods_outside_the_table_and_app_token_methods_need_no_bot_scope(ws: Workspace) -> None:
    ws.scopes = frozenset()
    access.check_scope(ws, "files.upload", {})  # not in the table: the method itself refuses
    access.check_scope(ws, "apps.connections.open", {})  # the app token's scope, not the bot's
    assert error(lambda: access.check_scope(ws, "chat.postMessage", {})) == "missing_scope"


def test_visibility_hides_private_channels_the_bot_is_not_in(ws: Workspace) -> None:
    assert access.visible(ws, PUBLIC) == (PUBLIC, "public")
    assert access.visible(ws, "U0ALICE") == ("D0ALICE", "im")
    assert error(lambda: access.visible(ws, PRIVATE)) == "channel_not_found"
    assert error(lambda: access.visible(ws, "C0NOSUCH")) == "channel_not_found"
    ws.channels[PRIVATE].is_member = True
    assert access.visible(ws, PRIVATE) == (PRIVATE, "private")
    ws.channels["G0GROUPDM"] = Channel("mpdm-a--b", is_private=True, is_mpim=True)
    assert error(lambda: access.visible(ws, "G0GROUPDM")) == "channel_not_found"


def test_reading_needs_membership(ws: Workspace) -> None:
    assert error(lambda: access.readable(ws, PUBLIC)) == "not_in_channel"
    assert error(lambda: access.readable(ws, PRIVATE)) == "channel_not_found"
    assert access.readable(ws, "D0ALICE") == ("D0ALICE", "im")
    ws.channels[PUBLIC].is_member = True
    assert access.readable(ws, "#public") == (PUBLIC, "public")


def test_posting_without_joining_needs_chat_write_public(ws: Workspace) -> None:
    ws.scopes = frozenset(BOT_SCOPES) - {"chat:write.public"}
    post = lambda: access.postable(ws, PUBLIC, public_without_joining=True)  # noqa: E731
    assert error(post) == "not_in_channel"
    ws.scopes |= {"chat:write.public"}
    assert post() == PUBLIC
    assert "chat:write.public" in ws.used_scopes
    # ephemerals can't go without joining: the bot must be in the channel
    ephemeral = lambda: access.postable(ws, PUBLIC, public_without_joining=False)  # noqa: E731
    assert error(ephemeral) == "not_in_channel"


def test_posting_to_archived_or_invisible_channels(ws: Workspace) -> None:
    assert error(lambda: access.postable(ws, ARCHIVED, public_without_joining=True)) == (
        "is_archived"
    )
    assert error(lambda: access.postable(ws, PRIVATE, public_without_joining=True)) == (
        "channel_not_found"
    )
    assert access.postable(ws, "U0BOB", public_without_joining=True) == "D0BOB"


def test_message_events_only_where_the_app_may_hear_them(ws: Workspace) -> None:
    assert access.message_event(ws, PUBLIC) is None  # not a member
    ws.channels[PUBLIC].is_member = True
    assert access.message_event(ws, PUBLIC) == "message.channels"
    assert access.message_event(ws, "D0ALICE") == "message.im"
    assert access.message_event(ws, "C0NOSUCH") is None
    ws.scopes -= {"channels:history"}
    assert access.message_event(ws, PUBLIC) is None  # subscribed, but without the scope
    ws.events -= {"message.im"}
    assert access.message_event(ws, "D0ALICE") is None  # not subscribed


def test_channel_type_and_membership(ws: Workspace) -> None:
    assert [access.channel_type(ws, c) for c in (PUBLIC, PRIVATE, "D0A", "G0UNKNOWN")] == [
        "channel",
        "group",
        "im",
        "group",
    ]
    assert access.is_member(ws, "D0ALICE") and access.is_member(ws, ARCHIVED)
    assert not access.is_member(ws, PUBLIC) and not access.is_member(ws, "C0NOSUCH")


def test_find_message_in_a_visible_conversation(ws: Workspace) -> None:
    msg = ws.bot_posts("D0ALICE", {"text": "hi"})
    assert access.find_message(ws, {"channel": "U0ALICE", "ts": msg.ts}) is msg
    args = {"channel": "D0ALICE", "timestamp": msg.ts}
    assert access.find_message(ws, args, "timestamp") is msg
    assert error(lambda: access.find_message(ws, {"channel": "D0ALICE", "ts": "1.0"})) == (
        "message_not_found"
    )
