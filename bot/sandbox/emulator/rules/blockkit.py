"""Block Kit and view limits, and the ids Slack fills in: what a message or view may hold.

Why here: chat.postMessage, chat.update, files.completeUploadExternal and views.* all refuse
the same invalid blocks with the same ``invalid_blocks`` answer; one copy of the limits
keeps them alike, and the templates' tests check their output against these functions.
"""

from __future__ import annotations

import uuid
from typing import Any

from bot.sandbox.emulator.errors import SlackError

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
TEXT_LIMIT = 40_000

_INTERACTIVE = frozenset(
    {
        "button", "checkboxes", "datepicker", "datetimepicker", "email_text_input",
        "external_select", "multi_external_select", "multi_static_select", "multi_users_select",
        "multi_conversations_select", "multi_channels_select", "number_input", "overflow",
        "plain_text_input", "radio_buttons", "rich_text_input", "static_select", "timepicker",
        "url_text_input", "users_select", "conversations_select", "channels_select",
    }
)  # fmt: skip


def _text_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


def _element_errors(el: Any, where: str, action_ids: set[str]) -> list[str]:
    if not isinstance(el, dict) or "type" not in el:
        return [f"missing required field: type [json-pointer:{where}]"]
    errs = []
    aid = el.get("action_id")
    if aid is not None:
        if len(aid) > 255:
            errs.append(f"must be less than 256 characters [json-pointer:{where}/action_id]")
        if aid in action_ids:
            errs.append(f"duplicate action_id {aid!r} [json-pointer:{where}/action_id]")
        action_ids.add(aid)
    if el["type"] == "button" and _text_len(el.get("text")) > 75:
        errs.append(f"must be less than 76 characters [json-pointer:{where}/text]")
    return errs


def block_errors(blocks: Any, limit: int) -> list[str]:
    """The Block Kit limits Slack enforces that apps most often trip; [] when fine."""
    if not isinstance(blocks, list):
        return ["blocks must be an array [json-pointer:/blocks]"]
    errs = []
    if len(blocks) > limit:
        errs.append(f"no more than {limit} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, b in enumerate(blocks):
        where = f"/blocks/{i}"
        action_ids: set[str] = set()  # Slack wants action_ids unique per block, not per view
        if not isinstance(b, dict) or "type" not in b:
            errs.append(f"missing required field: type [json-pointer:{where}]")
            continue
        bid = b.get("block_id")
        if bid is not None:
            if len(bid) > 255 or bid in block_ids:
                errs.append(f"invalid or duplicate block_id {bid!r} [json-pointer:{where}]")
            block_ids.add(bid)
        kind = b["type"]
        if kind == "header" and _text_len(b.get("text")) > 150:
            errs.append(f"must be less than 151 characters [json-pointer:{where}/text]")
        if kind == "section":
            fields = b.get("fields") or []
            if not b.get("text") and not fields:
                errs.append(f"must provide text or fields [json-pointer:{where}]")
            if _text_len(b.get("text")) > 3000:
                errs.append(f"must be less than 3001 characters [json-pointer:{where}/text]")
            if len(fields) > 10 or any(_text_len(f) > 2000 for f in fields):
                errs.append(f"at most 10 fields of 2000 characters [json-pointer:{where}/fields]")
            if "accessory" in b:
                errs += _element_errors(b["accessory"], f"{where}/accessory", action_ids)
        if kind == "actions":
            for j, el in enumerate(b.get("elements") or []):
                errs += _element_errors(el, f"{where}/elements/{j}", action_ids)
        if kind == "input":
            errs += _element_errors(b.get("element"), f"{where}/element", action_ids)
    return errs


def view_errors(view: dict[str, Any], kind: str) -> list[str]:
    """View-level problems (blocks are checked by ``block_errors``)."""
    errs = []
    if view.get("type") != kind:
        errs.append(f"view type must be {kind!r}")
    if kind == "modal" and not view.get("title"):
        errs.append("missing required field: title")
    for key in ("title", "submit", "close"):
        if _text_len(view.get(key)) > 24:
            errs.append(f"{key} must be less than 25 characters")
    if len(view.get("private_metadata", "")) > 3000:
        errs.append("private_metadata must be less than 3001 characters")
    if len(view.get("callback_id", "")) > 255:
        errs.append("callback_id must be less than 256 characters")
    return errs


def invalid_blocks(errors: list[str]) -> SlackError:
    """Slack's ``invalid_blocks`` answer, with each problem as a response_metadata message."""
    return SlackError(
        "invalid_blocks",
        errors=errors,
        response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
    )


def check_content(args: dict[str, Any], *, need_text: bool) -> None:
    """A message's text and blocks: ``msg_too_long``, ``invalid_blocks`` or ``no_text``."""
    text = args.get("text")
    if isinstance(text, str) and len(text) > TEXT_LIMIT:
        raise SlackError("msg_too_long")
    if args.get("blocks") is not None:
        errors = block_errors(args["blocks"], MESSAGE_BLOCK_LIMIT)
        if errors:
            raise invalid_blocks(errors)
    if need_text and not (text or args.get("blocks") or args.get("attachments")):
        raise SlackError("no_text")


def check_view(spec: Any, kind: str) -> dict[str, Any]:
    """A view spec Slack would store (its blocks, then the view itself), returned as is."""
    if not isinstance(spec, dict):
        raise SlackError("invalid_arguments")
    blocks = block_errors(spec.get("blocks", []), VIEW_BLOCK_LIMIT)
    if blocks:
        raise invalid_blocks(blocks)
    problems = view_errors(spec, kind)
    if problems:
        messages = [f"[ERROR] {p}" for p in problems]
        raise SlackError("invalid_arguments", response_metadata={"messages": messages})
    return spec


def with_ids(blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Add the block_id/action_id values Slack generates when an app leaves them out.

    Why: an app that forgets an action_id gets a random one from Slack and its listener never
    matches; the fake reproduces that instead of hiding it.
    """
    for b in blocks or []:
        if not isinstance(b, dict):
            continue
        b.setdefault("block_id", uuid.uuid4().hex[:5])
        elements = [b.get("accessory"), b.get("element"), *(b.get("elements") or [])]
        for el in elements:
            if isinstance(el, dict) and el.get("type") in _INTERACTIVE:
                el.setdefault("action_id", uuid.uuid4().hex[:5])
    return blocks
