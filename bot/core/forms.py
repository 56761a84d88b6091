"""Modal input: reading a submitted view's state, and errors shown next to its fields.

Slack shows ``{"response_action": "errors", "errors": {block_id: message}}``
under the inputs; domain code raises :class:`FieldErrors` keyed by block id
and the view listener turns it into that answer instead of closing the modal.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.core.errors import DomainError


class FieldErrors(DomainError):
    """Input to fix before anything is changed: ``errors`` maps block ids to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


def values(view: dict[str, Any]) -> dict[str, Any]:
    """``state.values`` flattened to ``{block_id: value}``: text, option value (a list of
    them for checkboxes), user or date.

    Empty inputs read as ``None``; a date stays an ISO string (see :func:`as_date`).
    """
    out: dict[str, Any] = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        for entry in actions.values():
            out[block_id] = _value(entry)
    return out


def _value(entry: dict[str, Any]) -> Any:
    kind = entry.get("type")
    if kind in ("static_select", "radio_buttons", "external_select"):
        option = entry.get("selected_option")
        return option.get("value") if option else None
    if kind == "users_select":
        return entry.get("selected_user")
    if kind == "checkboxes":
        return [o.get("value") for o in entry.get("selected_options") or []] or None
    if kind == "datepicker":
        return entry.get("selected_date")
    value = entry.get("value")
    return value if value not in ("", None) else None


def as_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None
