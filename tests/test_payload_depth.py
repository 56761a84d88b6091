"""Nesting and NUL in signed payloads: refused with a 400 naming the problem, on the
parsed body (one parse, one iterative walk), at any depth the sender picks."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.slack.payloads import MAX_DEPTH, malformed
from tests.desk import PARTNER
from tests.state import rows

FORM = "application/x-www-form-urlencoded"


def lists(count: int) -> Any:
    value: Any = "x"
    for _ in range(count):
        value = [value]
    return value


def submission(depth: int, **extra: Any) -> dict[str, Any]:
    """A submission ``depth`` levels deep: the payload object is level 1, ``view`` 2,
    ``state`` 3, and ``values`` the lists from level 4 down."""
    return {
        "type": "view_submission",
        "user": {"id": PARTNER},
        "view": {"type": "modal", "callback_id": "x", "state": {"values": lists(depth - 3)}},
        **extra,
    }


def test_the_deepest_allowed_payload_passes_the_depth_check_and_one_more_level_does_not() -> None:
    assert malformed(submission(MAX_DEPTH)) != "nested too deep"
    assert malformed(submission(MAX_DEPTH + 1)) == "nested too deep"


def test_nul_is_found_in_keys_and_values_at_any_depth() -> None:
    assert malformed(submission(10, extra={"a": ["ok", {"b\x00": 1}]})) == "NUL character"
    assert malformed(submission(10, extra=[["x\x00"]])) == "NUL character"
    assert malformed(submission(10)) != "NUL character"


@pytest.mark.parametrize("depth", [0, 900, 5000])  # levels beyond the first one too many
def test_a_signed_deep_form_payload_gets_a_400(escbot, user_factory, depth: int) -> None:  # type: ignore[no-untyped-def]
    partner = user_factory(PARTNER)
    text = json.dumps(submission(MAX_DEPTH + 1)).replace('"x"', "[" * depth + "1" + "]" * depth)
    body = urlencode({"payload": text})  # json.dumps itself can't write 5000 levels
    before = rows(escbot.services.sessions)
    resp = partner.send(body, FORM)
    assert resp.status_code == 400
    assert resp.json() == {"error": "malformed payload: nested too deep"}
    assert rows(escbot.services.sessions) == before


def test_a_signed_deep_json_event_gets_a_400(escbot, user_factory) -> None:  # type: ignore[no-untyped-def]
    partner = user_factory(PARTNER)
    # the body is level 1, the event 2, its lists from 3 to MAX_DEPTH + 1
    event = {"type": "event_callback", "event": {"type": "message", "x": lists(MAX_DEPTH - 1)}}
    before = rows(escbot.services.sessions)
    resp = partner.send(json.dumps(event), "application/json")
    assert resp.status_code == 400
    assert resp.json() == {"error": "malformed payload: nested too deep"}
    assert rows(escbot.services.sessions) == before
