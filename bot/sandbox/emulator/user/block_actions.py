"""Clicking buttons and choosing in selects (``block_actions``), found by what a person reads.

Why: a person clicks the button whose text they see (or the overflow ⋯ item), not an
action_id; finding the element the same way keeps tests honest about what the message shows,
and the payload's container, message and response_url follow where it was clicked (a message,
an ephemeral, a modal or App Home).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Unpack

from bot.sandbox.emulator.model import Message
from bot.sandbox.emulator.user.member import Member
from bot.sandbox.emulator.user.transport import HttpResponse, SendOptions
from bot.sandbox.emulator.user.view_state import (
    SELECTABLE,
    element_state,
    text_of,
    view_for_payload,
    view_state,
)

Target = dict[str, Any] | Message


def click(
    member: Member,
    message_or_view: Target,
    button_text: str,
    *,
    channel_id: str | None,
    message_ts: str | None,
    **opts: Unpack[SendOptions],
) -> HttpResponse:
    target = _as_target(message_or_view)
    buttons = [(b, el) for b, el in _elements(target) if el.get("type") == "button"]
    try:
        block, el = _pick(buttons, button_text, lambda e: text_of(e.get("text")), "button")
    except LookupError:
        menu = [
            (b, el)
            for b, el in _elements(target)
            if el.get("type") == "overflow"
            and any(text_of(o.get("text")) == button_text for o in el.get("options", []))
        ]
        if not menu:
            raise
        [(_, overflow), *_] = menu
        return select(
            member,
            message_or_view,
            str(overflow.get("action_id")),
            button_text,
            channel_id=channel_id,
            message_ts=message_ts,
            **opts,
        )
    action = {
        "type": "button",
        "action_id": el.get("action_id"),
        "block_id": block.get("block_id"),
        "text": el.get("text"),
        "value": el.get("value"),
        "action_ts": member.ts(),
    }
    if "style" in el:
        action["style"] = el["style"]
    return _send(member, message_or_view, target, action, channel_id, message_ts, **opts)


def select(
    member: Member,
    message_or_view: Target,
    action_id_or_placeholder: str,
    option: str,
    *,
    channel_id: str | None,
    message_ts: str | None,
    **opts: Unpack[SendOptions],
) -> HttpResponse:
    target = _as_target(message_or_view)
    selects = [(b, el) for b, el in _elements(target) if el.get("type") in SELECTABLE]

    def names(el: dict[str, Any]) -> str:
        return f"{el.get('action_id')}|{text_of(el.get('placeholder'))}"

    block, el = _pick(selects, action_id_or_placeholder, names, "select", exact_part=True)
    action = element_state(el, option, action_id_or_placeholder) | {
        "action_id": el.get("action_id"),
        "block_id": block.get("block_id"),
        "action_ts": member.ts(),
    }
    if "placeholder" in el:
        action["placeholder"] = el["placeholder"]
    return _send(member, message_or_view, target, action, channel_id, message_ts, **opts)


def _send(
    member: Member,
    original: Target,
    target: dict[str, Any],
    action: dict[str, Any],
    channel_id: str | None,
    message_ts: str | None,
    **opts: Unpack[SendOptions],
) -> HttpResponse:
    payload = member.base("block_actions") | {"actions": [action]}
    if target.get("type") in ("modal", "home"):
        view = view_for_payload(target)
        view["state"] = {"values": view_state(target, {}, enforce_required=False)}
        payload |= {"container": {"type": "view", "view_id": view["id"]}, "view": view}
        return member.send_payload(payload, **opts)
    channel = channel_id or target.get("channel")
    ts = message_ts or target.get("ts")
    if not channel or not ts:
        raise ValueError("clicking a message needs its channel and ts (pass a fake Message)")
    ephemeral = isinstance(original, Message) and original.ephemeral_to is not None
    payload |= {
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "channel": member.channel(channel),
        "state": {"values": {}},
        "response_url": member.response_url(channel, None if ephemeral else ts),
    }
    if not ephemeral:
        payload["message"] = {k: v for k, v in target.items() if k != "channel"}
    return member.send_payload(payload, **opts)


def _as_target(message_or_view: Target) -> dict[str, Any]:
    if isinstance(message_or_view, Message):
        return message_or_view.to_slack() | {"channel": message_or_view.channel}
    return message_or_view


def _elements(target: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(block, element) for section accessories and actions-block elements."""
    for block in target.get("blocks") or []:
        if isinstance(block.get("accessory"), dict):
            yield block, block["accessory"]
        if block.get("type") == "actions":
            for el in block.get("elements") or []:
                yield block, el


def _pick(
    found: list[tuple[dict[str, Any], dict[str, Any]]],
    wanted: str,
    name: Callable[[dict[str, Any]], str],
    what: str,
    *,
    exact_part: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Exact name, then case-insensitive, then a unique case-insensitive substring."""
    w = wanted.casefold()
    tests = [
        lambda n: wanted in n.split("|") if exact_part else n == wanted,
        lambda n: w in n.casefold().split("|") if exact_part else n.casefold() == w,
        lambda n: w in n.casefold(),
    ]
    for test in tests:
        hits = [pair for pair in found if test(name(pair[1]))]
        if len(hits) == 1 or (hits and test is not tests[-1]):
            return hits[0]
    raise LookupError(f"no {what} {wanted!r}; available: {[name(el) for _, el in found]}")
