"""Request-level hygiene: malformed bodies, unknown payloads, Events API retries, workspaces."""

from __future__ import annotations

import json
import socket
from urllib.parse import quote

from sqlalchemy import func, select

from storage.models import ProcessedRequest, Ticket
from tests.outbox_support import drain
from tests.state import rows

PARTNER = "U07LEGAL01"
FORM = "application/x-www-form-urlencoded"


def test_signed_but_malformed_bodies_get_400_without_a_traceback(escbot, user_factory) -> None:
    user = user_factory(PARTNER)
    before = rows(escbot.services.sessions)
    for body, ctype in [
        ("payload=%7Bnot-json", FORM),
        ("{garbage", "application/json"),
        ("", "application/json"),
        ("payload=" + quote(json.dumps({"type": "no_such_type"})), FORM),
        (
            json.dumps({"type": "event_callback", "event": {"type": "x"}, "event_id": "E\u0000"}),
            "application/json",
        ),
    ]:
        resp = user.send(body, ctype)
        assert resp.status_code == 400, (body, resp.text)
        assert "Traceback" not in resp.text and resp.json()["error"]
    assert rows(escbot.services.sessions) == before


def test_unsigned_garbage_is_401_not_400(escbot, user_factory) -> None:
    before = rows(escbot.services.sessions)
    resp = user_factory(PARTNER).send("{garbage", "application/json", bad_signature=True)
    assert resp.status_code == 401
    assert rows(escbot.services.sessions) == before


def test_an_event_without_listener_is_acknowledged(escbot, user_factory) -> None:
    event = {"type": "reaction_added", "user": PARTNER, "reaction": "eyes"}
    assert user_factory(PARTNER).event(event).status_code == 200


def test_an_unknown_button_is_explained(escbot, fake_slack, user_factory) -> None:
    message = {
        "ts": "1.000100",
        "text": "old",
        "blocks": [
            {
                "type": "actions",
                "block_id": "b",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "retired_button",
                        "text": {"type": "plain_text", "text": "Old button"},
                        "value": "x",
                    }
                ],
            }
        ],
    }
    # the click's id is kept (a retry of it is a replay); nothing else is written
    before = rows(escbot.services.sessions, skip={"processed_requests"})
    resp = user_factory(PARTNER).click(message, "Old button", channel_id="C06H2KX8ESC")
    assert resp.status_code == 200
    reply = fake_slack.wait_for("response_url")
    assert "no longer does anything" in json.dumps(reply.args)
    assert rows(escbot.services.sessions, skip={"processed_requests"}) == before


def test_retried_event_is_taken_once(escbot, user_factory) -> None:
    user = user_factory(PARTNER)
    event = {"type": "reaction_added", "user": PARTNER, "reaction": "eyes"}
    assert user.event(event, event_id="Ev0RETRY1").status_code == 200
    assert user.event(event, event_id="Ev0RETRY1", retry_num=1).status_code == 200
    with escbot.services.sessions() as s:
        count = s.scalar(
            select(func.count())
            .select_from(ProcessedRequest)
            .where(ProcessedRequest.key == "event:Ev0RETRY1")
        )
    assert count == 1


def test_oversized_body_is_refused_before_it_is_read(escbot) -> None:
    host, port = escbot.server.server.effective_host, escbot.server.server.effective_port
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5000000\r\n\r\n"
        )
        assert conn.recv(200).startswith(b"HTTP/1.1 413")


def test_requests_from_another_workspace_change_nothing(escbot, fake_slack, user_factory) -> None:
    stranger = user_factory(PARTNER, team_id="T0OTHER99")
    resp = stranger.command("/escalate", text="Coordinated hate campaign")
    assert resp.status_code == 200 and "another workspace" in resp.text
    with escbot.services.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 0


def test_json_logs_carry_request_id_and_ticket_key_but_not_contents(
    escbot, fake_slack, user_factory, capsys
) -> None:  # type: ignore[no-untyped-def]
    import logging

    from bot.core import logs

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    logs.setup("DEBUG", "json")
    try:
        user = user_factory(PARTNER)
        since = fake_slack.mark()
        user.command("/escalate", text="Secret summary words")
        fake_slack.wait_for("views.open", since=since)
        form = {"Policy area": "hateful_activities", "Severity": "sev2", "Your team": "legal"}
        user.submit_view(fake_slack.last_view(PARTNER), form)
        logging.getLogger("bot.test").info("after the escalation")
        drain(escbot.services.outbox)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    assert lines and all({"time", "level", "request_id", "ticket"} <= set(line) for line in lines)
    assert any(line["ticket"] == "ESC-1" for line in lines)
    assert not any(
        "Secret summary words" in line["message"]
        for line in lines
        if line["level"] in ("INFO", "WARNING", "ERROR")
    )
