"""The emulator's Block Kit and view limits (rules/blockkit.py), one limit at a time.

Each limit is tested at its edge: the largest value Slack accepts passes, one more fails with
a json-pointer to the offending field, as Slack's invalid_blocks messages have.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox.emulator.errors import SlackError
from bot.sandbox.emulator.rules.blockkit import (
    MESSAGE_BLOCK_LIMIT,
    check_content,
    check_view,
    view_errors,
    with_ids,
)
from bot.sandbox.emulator.rules.blockkit import block_errors as errors


def text(n: int) -> dict[str, str]:
    return {"type": "plain_text", "text": "x" * n}


def section(n: int = 1, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": text(n), **extra}


def button(label: int = 1, action_id: str | None = "a") -> dict[str, Any]:
    b: dict[str, Any] = {"type": "button", "text": text(label)}
    if action_id is not None:
        b["action_id"] = action_id
    return b


def test_block_count_limit() -> None:
    assert errors([section()] * 50, MESSAGE_BLOCK_LIMIT) == []
    assert errors([section()] * 51, MESSAGE_BLOCK_LIMIT) == [
        "no more than 50 items allowed [json-pointer:/blocks]"
    ]
    assert errors({"type": "section"}, 50) == ["blocks must be an array [json-pointer:/blocks]"]


def test_text_lengths() -> None:
    assert errors([section(3000), {"type": "header", "text": text(150)}], 50) == []
    assert errors([section(3001)], 50) == [
        "must be less than 3001 characters [json-pointer:/blocks/0/text]"
    ]
    assert errors([{"type": "header", "text": text(151)}], 50) == [
        "must be less than 151 characters [json-pointer:/blocks/0/text]"
    ]
    actions = {"type": "actions", "elements": [button(75), button(76, "b")]}
    assert errors([actions], 50) == [
        "must be less than 76 characters [json-pointer:/blocks/0/elements/1/text]"
    ]


def test_section_fields() -> None:
    assert errors([{"type": "section", "fields": [text(2000)] * 10}], 50) == []
    assert errors([{"type": "section", "fields": [text(1)] * 11}], 50) == [
        "at most 10 fields of 2000 characters [json-pointer:/blocks/0/fields]"
    ]
    assert errors([{"type": "section"}], 50) == [
        "must provide text or fields [json-pointer:/blocks/0]"
    ]


def test_ids_unique_block_ids_per_message_action_ids_per_block() -> None:
    two_blocks = [
        {"type": "actions", "block_id": "b", "elements": [button(action_id="go")]},
        {"type": "actions", "block_id": "c", "elements": [button(action_id="go")]},
    ]
    assert errors(two_blocks, 50) == []  # the same action_id in two blocks is fine
    one_block = {"type": "actions", "elements": [button(action_id="go"), button(action_id="go")]}
    assert errors([one_block], 50) == [
        "duplicate action_id 'go' [json-pointer:/blocks/0/elements/1/action_id]"
    ]
    assert errors([section(block_id="b"), section(block_id="b")], 50) == [
        "invalid or duplicate block_id 'b' [json-pointer:/blocks/1]"
    ]
    assert errors([section(accessory=button(action_id="x" * 256))], 50) == [
        "must be less than 256 characters [json-pointer:/blocks/0/accessory/action_id]"
    ]


def test_every_block_and_element_needs_a_type() -> None:
    assert errors([{"text": "no type"}], 50) == [
        "missing required field: type [json-pointer:/blocks/0]"
    ]
    assert errors([{"type": "input", "element": {}}], 50) == [
        "missing required field: type [json-pointer:/blocks/0/element]"
    ]


def test_view_limits() -> None:
    modal = {"type": "modal", "title": text(24), "submit": text(24), "callback_id": "c" * 255}
    assert view_errors(modal, "modal") == []
    assert view_errors(modal | {"title": text(25)}, "modal") == [
        "title must be less than 25 characters"
    ]
    assert view_errors({"type": "modal"}, "modal") == ["missing required field: title"]
    assert view_errors({"type": "home", "private_metadata": "m" * 3001}, "home") == [
        "private_metadata must be less than 3001 characters"
    ]
    assert view_errors(modal, "home") == ["view type must be 'home'"]


def test_check_content_gives_slacks_errors() -> None:
    def refused(args: dict[str, Any], need_text: bool = True) -> SlackError:
        with pytest.raises(SlackError) as e:
            check_content(args, need_text=need_text)
        return e.value

    assert refused({"text": "x" * 40_001}).error == "msg_too_long"
    assert refused({}).error == "no_text"
    check_content({}, need_text=False)  # chat.update may leave the text as it is
    bad = refused({"blocks": [section(3001)]})
    assert bad.error == "invalid_blocks"
    assert bad.extra["response_metadata"]["messages"] == [
        "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text]"
    ]


def test_check_view_refuses_blocks_then_the_view() -> None:
    with pytest.raises(SlackError) as e:
        check_view("not a view", "modal")
    assert e.value.error == "invalid_arguments"
    with pytest.raises(SlackError) as e:
        check_view({"type": "modal", "blocks": [section()] * 101}, "modal")
    assert e.value.error == "invalid_blocks"  # 100 blocks in a view, not 50
    with pytest.raises(SlackError) as e:
        check_view({"type": "modal", "blocks": [section()] * 100}, "modal")
    assert e.value.error == "invalid_arguments"  # the blocks pass; the title is missing


def test_with_ids_fills_only_what_is_missing() -> None:
    blocks = with_ids(
        [
            section(block_id="mine", accessory=button(action_id=None)),
            {"type": "actions", "elements": [button(action_id="keep"), {"type": "image"}]},
        ]
    )
    assert blocks is not None
    assert blocks[0]["block_id"] == "mine" and len(blocks[0]["accessory"]["action_id"]) == 5
    assert blocks[1]["block_id"] and blocks[1]["elements"][0]["action_id"] == "keep"
    assert "action_id" not in blocks[1]["elements"][1]  # not interactive: Slack adds none
