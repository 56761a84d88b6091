"""Submitting a modal (``view_submission``), and applying the app's ``response_action``.

Why: Slack's client refuses to submit a modal whose required inputs are empty, and applies
an ack's ``response_action`` (update, push) itself; doing both here makes
``fake.last_view(user)`` show the next step the person sees.
"""

from __future__ import annotations

from typing import Any, Unpack

from bot.sandbox.emulator.user.member import Member
from bot.sandbox.emulator.user.transport import HttpResponse, SendOptions
from bot.sandbox.emulator.user.view_state import view_for_payload, view_state


def submit_view(
    member: Member,
    view: dict[str, Any] | None,
    values_by_label: dict[str, Any] | None,
    *,
    enforce_required: bool,
    enforce_lengths: bool = True,
    **opts: Unpack[SendOptions],
) -> HttpResponse:
    if view is None:
        raise ValueError("no view to submit (did the app open one? fake.last_view was None)")
    state = view_state(
        view,
        values_by_label or {},
        enforce_required=enforce_required,
        enforce_lengths=enforce_lengths,
    )
    submitted = view_for_payload(view) | {"state": {"values": state}}
    payload = member.base("view_submission") | {"view": submitted, "response_urls": []}
    resp = member.send_payload(payload, **opts)
    if member.fake and resp.status_code == 200 and resp.content:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            member.fake.accept_view_response(member.user_id, submitted["id"], body)
    return resp
