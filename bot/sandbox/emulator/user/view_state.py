"""Modal state as Slack builds it: filling inputs by their visible label, picking options.

Why: a person fills a modal by reading labels and choosing option texts, and Slack sends the
app ``state.values`` keyed by block_id and action_id with a shape per element type; building
it here from labels lets tests read like what a person does, and catches an input the
emulator can't fill (an unknown label or option raises, naming what there is).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from datetime import time as dtime
from typing import Any

from bot.sandbox.emulator.errors import GestureRefused

_TEXT_INPUTS = frozenset({"plain_text_input", "url_text_input", "email_text_input", "number_input"})
_ONE_OPTION = frozenset({"static_select", "external_select", "radio_buttons", "overflow"})
_MANY_OPTIONS = frozenset({"multi_static_select", "multi_external_select", "checkboxes"})
SELECTABLE = _ONE_OPTION | {"users_select", "conversations_select", "channels_select"}
#: element type -> (state key, initial-value key); ids and dates pass through as given.
_PLAIN: dict[str, tuple[str, str]] = {
    "users_select": ("selected_user", "initial_user"),
    "multi_users_select": ("selected_users", "initial_users"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
    "rich_text_input": ("rich_text_value", "initial_value"),
}


def view_state(
    view: dict[str, Any],
    values_by_label: dict[str, Any],
    *,
    enforce_required: bool = True,
    enforce_lengths: bool = True,
) -> dict[str, dict[str, Any]]:
    """``state.values`` as Slack builds it, filling inputs by label (or block_id).

    Unfilled inputs keep their initial value, else null; unknown labels raise naming them.
    A text outside an input's ``min_length``/``max_length`` raises ``GestureRefused``, as
    Slack's client stops it (``enforce_lengths=False`` sends it anyway, as a forger would).
    """
    inputs = [b for b in view.get("blocks", []) if b.get("type") == "input" and "element" in b]
    by_label = {text_of(b.get("label")): b for b in inputs}
    chosen: dict[int, Any] = {}
    for label, value in values_by_label.items():
        block = _lookup(by_label, inputs, label)
        chosen[id(block)] = value
    state: dict[str, dict[str, Any]] = {}
    for i, block in enumerate(inputs):
        el, label = block["element"], text_of(block.get("label"))
        value = chosen.get(id(block), _initial(el))
        entry = element_state(el, value, label)
        empty = all(v in (None, "", []) for k, v in entry.items() if k != "type")
        if empty and enforce_required and not block.get("optional", False):
            raise ValueError(f"required input {label!r} is empty; Slack would not submit the modal")
        if enforce_lengths:
            check_length(el, entry.get("value"), label)
        block_id = block.get("block_id") or f"input-{i}"
        action_id = el.get("action_id") or f"action-{i}"
        state.setdefault(block_id, {})[action_id] = entry
    return state


def check_length(el: dict[str, Any], value: Any, label: str) -> None:
    """Slack's client keeps a plain_text_input's text within ``max_length`` and refuses to
    submit one shorter than ``min_length``
    (https://docs.slack.dev/reference/block-kit/block-elements/plain-text-input-element)."""
    if el.get("type") != "plain_text_input" or not isinstance(value, str) or not value:
        return
    most, least = el.get("max_length"), el.get("min_length")
    if most is not None and len(value) > most:
        raise GestureRefused(
            f"input {label!r} takes at most {most} characters ({len(value)} typed); "
            "Slack's client stops the typing there"
        )
    if least is not None and len(value) < least:
        raise GestureRefused(
            f"input {label!r} needs at least {least} characters ({len(value)} typed); "
            "Slack's client would not submit the modal"
        )


def _lookup(by_label: dict[str, dict[str, Any]], inputs: list[dict[str, Any]], key: str) -> Any:
    if key in by_label:
        return by_label[key]
    folded = {k.casefold(): b for k, b in by_label.items()}
    if key.casefold() in folded:
        return folded[key.casefold()]
    for b in inputs:
        if b.get("block_id") == key:
            return b
    raise LookupError(f"no input labelled {key!r} in the view; labels are {list(by_label)}")


def _initial(el: dict[str, Any]) -> Any:
    kind = el.get("type", "")
    if kind in _PLAIN:
        return el.get(_PLAIN[kind][1])
    if kind in _ONE_OPTION:
        return el.get("initial_option")
    if kind in _MANY_OPTIONS:
        return el.get("initial_options")
    return el.get("initial_value")


def element_state(el: dict[str, Any], value: Any, label: str) -> dict[str, Any]:
    """One element's entry in ``state.values`` (also an action's selection)."""
    kind = el.get("type", "")
    if kind in _TEXT_INPUTS:
        return {"type": kind, "value": None if value is None else str(value)}
    if kind in _ONE_OPTION:
        return {"type": kind, "selected_option": _option(el, value, label) if value else None}
    if kind in _MANY_OPTIONS:
        values = [] if value is None else value if isinstance(value, list | tuple) else [value]
        return {"type": kind, "selected_options": [_option(el, v, label) for v in values]}
    if kind in _PLAIN:
        return {"type": kind, _PLAIN[kind][0]: _plain_value(kind, value)}
    raise ValueError(f"input {label!r}: element type {kind!r} is not supported by the emulator")


def _plain_value(kind: str, value: Any) -> Any:
    if value is None:
        return [] if kind.startswith("multi_") else None
    if kind == "datetimepicker" and isinstance(value, datetime):
        return int(value.timestamp())
    if kind == "timepicker" and isinstance(value, dtime):
        return value.strftime("%H:%M")
    if kind == "datepicker" and isinstance(value, date):
        return value.isoformat()
    if kind == "rich_text_input" and isinstance(value, str):
        text = {"type": "text", "text": value}
        section = {"type": "rich_text_section", "elements": [text]}
        return {"type": "rich_text", "elements": [section]}
    if kind.startswith("multi_") and isinstance(value, str):
        return [value]
    return value


def _options(el: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from el.get("options") or []
    for group in el.get("option_groups") or []:
        yield from group.get("options") or []


def _option(el: dict[str, Any], wanted: Any, label: str) -> dict[str, Any]:
    """The option whose text or value is ``wanted`` (a dict is taken as the option itself)."""
    if isinstance(wanted, dict):
        return wanted
    options = list(_options(el))
    if not options and el.get("type", "").endswith("external_select"):
        return {"text": {"type": "plain_text", "text": str(wanted)}, "value": str(wanted)}
    want = str(wanted)
    for fold in (False, True):
        for opt in options:
            names = {text_of(opt.get("text")), str(opt.get("value", ""))}
            if want in names or (fold and want.casefold() in {n.casefold() for n in names}):
                return opt
    shown = [text_of(o.get("text")) for o in options]
    raise LookupError(f"input {label!r} has no option {wanted!r}; options are {shown}")


def text_of(obj: Any) -> str:
    """The text of a text object (or the string itself)."""
    return str(obj.get("text", "")) if isinstance(obj, dict) else str(obj or "")


def view_for_payload(view: dict[str, Any]) -> dict[str, Any]:
    """The view object as Slack sends it back, with defaults for hand-built views."""
    defaults = {
        "id": f"V{uuid.uuid4().hex[:10].upper()}",
        "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
        "callback_id": "",
        "private_metadata": "",
        "previous_view_id": None,
        "root_view_id": None,
    }
    return defaults | dict(view)
