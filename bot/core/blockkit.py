"""Block Kit limits, checked on everything we render.

Slack rejects a message with ``invalid_blocks`` when one limit is passed, and
that rejection would lose the message; templates truncate, and this module
both fits block lists into their surface and validates the result. :class:`Button`
is the shape every surface hands the templates for a button.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypedDict

MAX_BLOCKS = {"message": 50, "modal": 100, "home": 100}
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
HEADER_TEXT = 150
BUTTON_TEXT = 75
VIEW_TITLE = 24
VIEW_BUTTON = 24
ID_LENGTH = 255
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTIONS = 100
OPTION_GROUPS = 100
PRIVATE_METADATA = 3000
MESSAGE_TEXT = 40000
LABEL_TEXT = 2000
HINT_TEXT = 2000
PLACEHOLDER_TEXT = 150
INPUT_VALUE = 3000
URL_LENGTH = 3000
ALT_TEXT = 2000


class Confirm(TypedDict):
    """A Block Kit ``confirm`` dialog: Slack asks before the click reaches us."""

    title: str  # ≤ 100
    text: str  # mrkdwn, ≤ 300
    confirm: str  # ≤ 30
    deny: str  # ≤ 30


class Button(TypedDict, total=False):
    """A button in an actions block; ``text`` is truncated to ``BUTTON_TEXT`` characters."""

    text: str
    action_id: str
    value: str
    style: str  # "primary" | "danger"
    confirm: Confirm


def fit(blocks: list[dict[str, Any]], surface: str, more_label: str = "more") -> list[dict]:
    """Cut ``blocks`` to the surface's limit, ending with an "…and N more" note."""
    limit = MAX_BLOCKS[surface]
    if len(blocks) <= limit:
        return blocks
    hidden = len(blocks) - (limit - 1)
    note = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"…and {hidden} {more_label} not shown"}],
    }
    return [*blocks[: limit - 1], note]


def problems(payload: dict[str, Any], surface: str) -> list[str]:
    """Every Block Kit limit ``payload`` (a message or a view) breaks; empty when valid."""
    out: list[str] = []
    blocks = payload.get("blocks", [])
    if len(blocks) > MAX_BLOCKS[surface]:
        out.append(f"{len(blocks)} blocks > {MAX_BLOCKS[surface]} for a {surface}")
    if len(payload.get("text", "") or "") > MESSAGE_TEXT:
        out.append("message text too long")
    if surface in ("modal", "home"):
        out += _view_problems(payload)
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        out += [f"blocks[{i}]: {p}" for p in _block_problems(block, block_ids)]
    return out


def _view_problems(view: dict[str, Any]) -> list[str]:
    out = []
    if view.get("type") == "modal" and "title" not in view:
        out.append("modal without a title")
    has_inputs = any(b.get("type") == "input" for b in view.get("blocks", []))
    if view.get("type") == "modal" and has_inputs and "submit" not in view:
        out.append("modal with input blocks but no submit button")
    for key, limit in (("title", VIEW_TITLE), ("submit", VIEW_BUTTON), ("close", VIEW_BUTTON)):
        if key in view and len(view[key]["text"]) > limit:
            out.append(f"view {key} longer than {limit}")
        if key in view and view[key].get("type") != "plain_text":
            out.append(f"view {key} must be plain_text")
    if len(view.get("private_metadata", "")) > PRIVATE_METADATA:
        out.append("private_metadata too long")
    if len(view.get("callback_id", "")) > ID_LENGTH:
        out.append("callback_id too long")
    return out


def _texts(obj: Any) -> Iterable[dict[str, Any]]:
    if isinstance(obj, dict):
        if obj.get("type") in ("plain_text", "mrkdwn") and "text" in obj:
            yield obj
        for value in obj.values():
            yield from _texts(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _texts(value)


def _block_problems(block: dict[str, Any], block_ids: set[str]) -> list[str]:
    """One block's problems; block_ids are unique per surface, action_ids per block (as
    Slack checks them)."""
    out: list[str] = []
    kind = block.get("type")
    block_id = block.get("block_id")
    if block_id is not None:
        if len(block_id) > ID_LENGTH:
            out.append("block_id too long")
        if block_id in block_ids:
            out.append(f"duplicate block_id {block_id!r}")
        block_ids.add(block_id)
    if kind == "header" and len(block["text"]["text"]) > HEADER_TEXT:
        out.append(f"header longer than {HEADER_TEXT}")
    if kind == "header" and block["text"].get("type") != "plain_text":
        out.append("header text must be plain_text")
    if kind == "input":
        out += _input_problems(block)
    if kind == "image":
        if len(block.get("alt_text", "")) > ALT_TEXT:
            out.append(f"image alt_text longer than {ALT_TEXT}")
        if len(block.get("image_url", "")) > URL_LENGTH:
            out.append(f"image_url longer than {URL_LENGTH}")
    if kind == "section":
        if "text" in block and len(block["text"]["text"]) > SECTION_TEXT:
            out.append(f"section text longer than {SECTION_TEXT}")
        fields = block.get("fields", [])
        if len(fields) > MAX_FIELDS:
            out.append(f"more than {MAX_FIELDS} fields")
        out += [f"field longer than {FIELD_TEXT}" for f in fields if len(f["text"]) > FIELD_TEXT]
        if "text" not in block and not fields:
            out.append("section without text or fields")
    if kind == "context" and len(block.get("elements", [])) > CONTEXT_ELEMENTS:
        out.append(f"more than {CONTEXT_ELEMENTS} context elements")
    if kind == "context":
        out += [
            f"context text longer than {SECTION_TEXT}"
            for e in block.get("elements", [])
            if len(e.get("text", "")) > SECTION_TEXT
        ]
    if kind == "actions" and len(block.get("elements", [])) > ACTIONS_ELEMENTS:
        out.append(f"more than {ACTIONS_ELEMENTS} action elements")
    action_ids: set[str] = set()
    for element in _elements(block):
        out += _element_problems(element, action_ids)
    for text in _texts(block):
        if not text["text"]:
            out.append("empty text object")
    return out


def _elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(block.get("elements", [])) if block.get("type") == "actions" else []
    for key in ("accessory", "element"):
        if key in block:
            found.append(block[key])
    return found


def _element_problems(element: dict[str, Any], action_ids: set[str]) -> list[str]:
    out: list[str] = []
    action_id = element.get("action_id")
    if action_id is not None:
        if len(action_id) > ID_LENGTH:
            out.append("action_id too long")
        if action_id in action_ids:
            out.append(f"duplicate action_id {action_id!r}")
        action_ids.add(action_id)
    if element.get("type") == "button":
        if len(element["text"]["text"]) > BUTTON_TEXT:
            out.append(f"button text longer than {BUTTON_TEXT}")
        if element["text"].get("type") != "plain_text":
            out.append("button text must be plain_text")
        if len(element.get("url", "")) > URL_LENGTH:
            out.append(f"button url longer than {URL_LENGTH}")
    if len(element.get("value", "")) > 2000:
        out.append("button value longer than 2000")
    placeholder = element.get("placeholder")
    if placeholder and len(placeholder.get("text", "")) > PLACEHOLDER_TEXT:
        out.append(f"placeholder longer than {PLACEHOLDER_TEXT}")
    if element.get("type") == "plain_text_input":
        if "max_length" not in element:  # then Slack stops the typing, not escbot the submit
            out.append("plain_text_input without max_length")
        max_length = element.get("max_length", INPUT_VALUE)
        if max_length > INPUT_VALUE:
            out.append(f"max_length above {INPUT_VALUE}")
        if len(element.get("initial_value", "")) > min(max_length, INPUT_VALUE):
            out.append("initial_value longer than max_length")
    out += _options_problems(element)
    return out


def _options_problems(element: dict[str, Any]) -> list[str]:
    """Options directly or in groups: counts, lengths, and a real initial option."""
    out: list[str] = []
    options = list(element.get("options", []))
    if len(options) > OPTIONS:
        out.append(f"more than {OPTIONS} options")
    groups = element.get("option_groups", [])
    if len(groups) > OPTION_GROUPS:
        out.append(f"more than {OPTION_GROUPS} option groups")
    for group in groups:
        if len(group["label"]["text"]) > OPTION_TEXT:
            out.append(f"option group label longer than {OPTION_TEXT}")
        if len(group["options"]) > OPTIONS:
            out.append(f"more than {OPTIONS} options in a group")
        options += group["options"]
    for o in options:
        if len(o["text"]["text"]) > OPTION_TEXT:
            out.append(f"option text longer than {OPTION_TEXT}")
        if len(o.get("value", "")) > OPTION_VALUE:
            out.append(f"option value longer than {OPTION_VALUE}")
        if len(o.get("description", {}).get("text", "")) > OPTION_TEXT:
            out.append(f"option description longer than {OPTION_TEXT}")
    initial = [element["initial_option"]] if "initial_option" in element else []
    initial += element.get("initial_options", [])
    out += ["initial option is not one of the options" for i in initial if i not in options]
    return out


def _input_problems(block: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if "element" not in block:
        out.append("input block without an element")
    if len(block.get("label", {}).get("text", "")) > LABEL_TEXT:
        out.append(f"input label longer than {LABEL_TEXT}")
    if len(block.get("hint", {}).get("text", "")) > HINT_TEXT:
        out.append(f"input hint longer than {HINT_TEXT}")
    for key in ("label", "hint"):
        if key in block and block[key].get("type") != "plain_text":
            out.append(f"input {key} must be plain_text")
    return out
