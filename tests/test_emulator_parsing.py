"""Request parsing (request_parsing.py): every body shape slack_sdk sends becomes plain args."""

from __future__ import annotations

import json

import pytest

from bot.sandbox.emulator.request_parsing import bearer, flag, parse_body, user_ids


def test_json_body_over_the_query_string() -> None:
    body = json.dumps({"channel": "C1", "blocks": [{"type": "divider"}]}).encode()
    args = parse_body("application/json; charset=utf-8", body, "channel=C0&limit=5")
    assert args == {"channel": "C1", "limit": "5", "blocks": [{"type": "divider"}]}
    assert parse_body("application/json", b"", "") == {}


def test_form_body_decodes_json_valued_args_only() -> None:
    body = (
        b"channel=C1&blocks=%5B%7B%22type%22%3A%22divider%22%7D%5D&text=%5Bnot+json&empty="
        b"&metadata=plain"
    )
    args = parse_body("application/x-www-form-urlencoded", body, "")
    assert args == {
        "channel": "C1",
        "blocks": [{"type": "divider"}],
        "text": "[not json",  # text is never JSON, whatever it looks like
        "empty": "",
        "metadata": "plain",  # a JSON-valued arg that isn't JSON stays as sent
    }


def test_multipart_keeps_file_parts_as_bytes() -> None:
    boundary = "XyZ"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"filename\"\r\n\r\nchart.png\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.png\"\r\n"
        "Content-Type: image/png\r\n\r\n"
    ).encode() + b"\x89PNG\x00\xff" + f"\r\n--{boundary}--\r\n".encode()
    args = parse_body(f"multipart/form-data; boundary={boundary}", body, "")
    assert args == {"filename": "chart.png", "file": b"\x89PNG\x00\xff"}


@pytest.mark.parametrize("body", [b"[1, 2]", b"{not json", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_body("application/json", body, "")


def test_bearer_flag_and_user_ids() -> None:
    assert bearer("Bearer xoxb-1 ") == "xoxb-1"
    assert bearer("bearer xoxb-2") == "xoxb-2"
    assert bearer("Basic abc") is None and bearer(None) is None
    assert [flag(v) for v in (None, True, False, "1", "true", "yes", "0", "false", 0)] == [
        None,
        True,
        False,
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert user_ids({"users": "U1,U2,"}) == ["U1", "U2"]
    assert user_ids({"users": ["U1"]}) == ["U1"]
    assert user_ids({}) == []
