"""The emulator's state (workspace.py): ids and ts, conversations by id or name, threads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.clock import FakeClock
from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.model import Channel
from bot.sandbox.emulator.workspace import Workspace

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_ts_follow_the_clock_and_stay_unique_when_it_stands_still() -> None:
    ws = Workspace(clock=FakeClock(NOON))
    stamps = [ws.next_ts() for _ in range(3)]
    assert stamps == [f"{int(NOON.timestamp())}.00000{i}" for i in range(3)]
    assert ws.new_id("F") == "F0000000001" and ws.new_id("V") == "V0000000002"


def test_a_person_may_choose_a_ts_and_later_ones_stay_after_it() -> None:
    ws = Workspace(clock=FakeClock(NOON))
    later = f"{int(NOON.timestamp()) + 60}.5"
    msg = ws.person_posts("C1", "old", user="U1", thread_ts=None, blocks=None, ts=later)
    assert msg.ts == later
    assert ws.next_ts() == f"{int(NOON.timestamp()) + 60}.500001"


def test_conversations_by_id_name_or_user() -> None:
    ws = Workspace()
    ws.channels["C1"] = Channel("intake")
    ws.channels["G1"] = Channel("secret", is_private=True)
    assert ws.conversation("C1") == ("C1", "public")
    assert ws.conversation("#intake") == ("C1", "public")
    assert ws.conversation("secret") == ("G1", "private")
    assert ws.conversation("U0ALICE") == ("D0ALICE", "im")
    for unknown in ("C0NOSUCH", "Cintake", "", None, 42):
        with pytest.raises(SlackError, match="channel_not_found"):
            ws.conversation(unknown)
    assert [ws.channel_name(c) for c in ("C1", "D0ALICE", "C0X")] == [
        "intake",
        "directmessage",
        "c0x",
    ]
    with pytest.raises(KeyError, match="add_channel"):
        ws.known("C0NOSUCH")


def test_a_reply_to_a_reply_lands_in_the_parents_thread() -> None:
    ws = Workspace()
    parent = ws.bot_posts("C1", {"text": "card"})
    reply = ws.bot_posts("C1", {"text": "1", "thread_ts": parent.ts})
    nested = ws.bot_posts("C1", {"text": "2", "thread_ts": reply.ts})
    assert nested.thread_ts == parent.ts
    assert (parent.reply_count, parent.latest_reply) == (2, nested.ts)
    ws.remove_message(reply)
    assert [m.text for m in ws.messages["C1"]] == ["card", "2"]


def test_bot_posts_take_slacks_argument_forms() -> None:
    ws = Workspace()
    blocks = [{"type": "actions", "elements": [{"type": "button", "text": {"text": "Go"}}]}]
    msg = ws.bot_posts(
        "C1", {"text": "t", "blocks": blocks, "unfurl_links": "false", "reply_broadcast": "1"}
    )
    assert (msg.unfurl_links, msg.reply_broadcast, msg.bot_id) == (False, True, ws.bot_id)
    assert msg.blocks and msg.blocks[0]["elements"][0]["action_id"]  # Slack fills it in
    assert "action_id" not in blocks[0]["elements"][0]  # the caller's copy is untouched
    ephemeral = ws.bot_posts("C1", {"text": "psst"}, ephemeral_to="U1")
    assert ws.ephemerals == [ephemeral] and ws.messages["C1"] == [msg]


def test_reset_forgets_records_but_keeps_members_channels_and_scopes() -> None:
    ws = Workspace(scopes=["chat:write"])
    ws.add_user("U1", "alice")
    ws.channels["C1"] = Channel("intake")
    ws.bot_posts("C1", {"text": "hi"})
    ws.limits.limit_channels(1.0, 1)
    ws.limits.take_channel("C1")
    ws.reset()
    assert ws.messages == {} and ws.calls == []
    assert set(ws.users) == {"U0ESCBOT", "U1"} and "C1" in ws.channels
    assert ws.scopes == {"chat:write"}
    ws.limits.take_channel("C1")  # the rate limit is off again
