"""The HTTP edge: replayed clicks, the workspace check, /metrics and /healthz exposure,
settings for the server, over real HTTP against the running app."""

from __future__ import annotations

import http.client
import json
import logging
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.settings import HttpLimits, Settings, SettingsError
from storage.models import Ticket, TicketEvent
from tests.desk import INTAKE, PARTNER, WANJIRU, new_ticket
from tests.outbox_support import drain
from tests.state import rows


def get(
    host: str, port: int, path: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# -- replays -----------------------------------------------------------------------------


def takes(escbot, ticket: Ticket) -> list[str]:  # type: ignore[no-untyped-def]
    with escbot.services.sessions() as s:
        return list(
            s.scalars(
                select(TicketEvent.actor_id)
                .where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == "take")
                .order_by(TicketEvent.id)
            )
        )


def click_take(escbot, user, card, ticket: Ticket) -> None:  # type: ignore[no-untyped-def]
    """Click Take and wait for it to be taken: Bolt runs the listener after the ack."""
    before = len(takes(escbot, ticket))
    assert user.click(card, "Take").ok
    deadline = time.monotonic() + 10
    while len(takes(escbot, ticket)) == before:
        assert time.monotonic() < deadline, "the click was never taken"
        time.sleep(0.02)


def open_card(escbot, fake_slack, config) -> tuple[Ticket, Any]:  # type: ignore[no-untyped-def]
    services = escbot.services
    ticket = new_ticket(services.sessions, config, services.renderer, services.clock.now())
    assert drain(services.outbox)
    card = next(m for m in fake_slack.messages(INTAKE) if ticket.key in json.dumps(m.blocks))
    return ticket, card


def test_a_replayed_take_click_does_nothing_and_is_logged(
    escbot, fake_slack, config, user_factory, caplog
) -> None:  # type: ignore[no-untyped-def]
    ticket, card = open_card(escbot, fake_slack, config)
    owner, wanjiru = user_factory(ticket.assignee_id), user_factory(WANJIRU)
    click_take(escbot, wanjiru, card, ticket)
    captured = wanjiru.last_sent  # by whoever watches the wire
    click_take(escbot, owner, card, ticket)  # the owner takes it back
    assert captured is not None
    with caplog.at_level(logging.WARNING, logger="handlers.middleware"):
        # re-signed with a fresh timestamp: inside Slack's 5 minutes, the signature is good
        assert wanjiru.send(*captured).status_code == 200
    # dropped in the middleware, before the ack: no listener was started for it
    with escbot.services.sessions() as s:
        assert s.get_one(Ticket, ticket.id).assignee_id == ticket.assignee_id
    assert takes(escbot, ticket) == [WANJIRU, ticket.assignee_id]
    [line] = [r.getMessage() for r in caplog.records if "replayed block action" in r.getMessage()]
    assert WANJIRU in line


def test_a_second_real_click_is_not_a_replay(escbot, fake_slack, config, user_factory) -> None:  # type: ignore[no-untyped-def]
    """Each click has its own action_ts: only the byte-for-byte same click is dropped."""
    ticket, card = open_card(escbot, fake_slack, config)
    wanjiru, owner = user_factory(WANJIRU), user_factory(ticket.assignee_id)
    for who in (wanjiru, owner, wanjiru):
        click_take(escbot, who, card, ticket)
    assert takes(escbot, ticket) == [WANJIRU, ticket.assignee_id, WANJIRU]


# -- the workspace -----------------------------------------------------------------------


@pytest.mark.parametrize("team", ["", "missing", "T0OTHER99"])
def test_a_command_without_the_configured_workspace_is_refused(
    escbot, fake_slack, user_factory, team
) -> None:  # type: ignore[no-untyped-def]
    fields = {
        "command": "/escalate",
        "text": "Coordinated hate campaign",
        "user_id": PARTNER,
        "channel_id": "C1",
        "trigger_id": "1.2.3",
    }
    if team != "missing":
        fields["team_id"] = team
    before = rows(escbot.services.sessions)
    resp = user_factory(PARTNER).send(urlencode(fields), "application/x-www-form-urlencoded")
    assert resp.status_code == 200 and "another workspace" in resp.text
    assert rows(escbot.services.sessions) == before
    assert fake_slack.calls_to("views.open") == []


def test_an_event_with_a_null_team_is_refused(escbot, fake_slack, user_factory) -> None:  # type: ignore[no-untyped-def]
    body = {
        "type": "event_callback",
        "team_id": None,
        "event": {"type": "app_home_opened", "user": PARTNER, "tab": "home"},
        "event_id": "Ev0NULLTEAM",
    }
    before = rows(escbot.services.sessions)
    resp = user_factory(PARTNER).send(json.dumps(body), "application/json")
    assert resp.status_code == 200 and "another workspace" in resp.text
    assert rows(escbot.services.sessions) == before  # not even the event id, for a retry
    assert fake_slack.calls_to("views.publish") == []


# -- /metrics and /healthz ---------------------------------------------------------------


def test_healthz_says_only_whether_the_database_answers(escbot) -> None:  # type: ignore[no-untyped-def]
    host, port = escbot.server.address
    status, body = get(host, port, "/healthz")
    assert status == 200 and json.loads(body) == {"ok": True, "database": "ok"}


def test_metrics_on_their_own_address_with_a_token(runtime_with) -> None:  # type: ignore[no-untyped-def]
    runtime = runtime_with(metrics_addr=("127.0.0.1", 0), metrics_token="s3cret-token")
    assert get(*runtime.server.address, "/metrics")[0] == 404
    host, port = runtime.metrics_server.address
    assert get(host, port, "/metrics")[0] == 401
    assert get(host, port, "/metrics", {"Authorization": "Bearer wrong"})[0] == 401
    status, body = get(host, port, "/metrics", {"Authorization": "Bearer s3cret-token"})
    assert status == 200 and b"escbot_http_requests" in body
    assert get(host, port, "/healthz")[0] == 200
    assert get(host, port, "/slack/events")[0] == 404


def test_metrics_on_the_slack_port_are_for_loopback_or_a_token(runtime_with) -> None:  # type: ignore[no-untyped-def]
    """Behind the trusted proxy, REMOTE_ADDR is the client it names: not loopback → 403."""
    runtime = runtime_with(http=HttpLimits(trusted_proxy="127.0.0.1"))
    host, port = runtime.server.address
    assert get(host, port, "/metrics")[0] == 200  # the proxy's own host, e.g. a sidecar
    status, body = get(host, port, "/metrics", {"X-Forwarded-For": "203.0.113.9"})
    assert status == 403 and b"ESCBOT_METRICS_TOKEN" in body
    tokened = runtime_with(metrics_token="t0ken", http=HttpLimits(trusted_proxy="127.0.0.1"))
    host, port = tokened.server.address
    remote = {"X-Forwarded-For": "203.0.113.9"}
    assert get(host, port, "/metrics", remote | {"Authorization": "Bearer t0ken"})[0] == 200
    assert get(host, port, "/metrics")[0] == 401  # a token, once set, is wanted from anyone


# -- settings ----------------------------------------------------------------------------

BASE_ENV = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "abc"}


@pytest.mark.parametrize("secret", [" ", "\n", "\t \n"])
def test_a_blank_signing_secret_is_the_friendly_error(secret: str) -> None:
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET is not set"):
        Settings.from_env(BASE_ENV | {"SLACK_SIGNING_SECRET": secret})
    result = CliRunner().invoke(main, ["run"], env=BASE_ENV | {"SLACK_SIGNING_SECRET": secret})
    assert result.exit_code == 2
    assert "SLACK_SIGNING_SECRET is not set" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, ValueError)


def test_server_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        BASE_ENV
        | {
            "ESCBOT_CONNECTION_LIMIT": "2000",
            "ESCBOT_CHANNEL_TIMEOUT": "15",
            "ESCBOT_CLIENT_CONNECTIONS": "16",
            "ESCBOT_HEADER_TIMEOUT": "5",
            "ESCBOT_MAX_BODY_BYTES": "262144",
            "ESCBOT_TRUSTED_PROXY": "10.0.0.2",
            "ESCBOT_METRICS_ADDR": "[::1]:9100",
            "ESCBOT_METRICS_TOKEN": " tok ",
        }
    )
    assert settings.http == HttpLimits(
        connection_limit=2000,
        channel_timeout=15,
        client_connections=16,
        header_timeout=5,
        max_body_bytes=262144,
        trusted_proxy="10.0.0.2",
    )
    assert (settings.metrics_addr, settings.metrics_token) == (("::1", 9100), "tok")
    assert Settings.from_env(BASE_ENV).http == HttpLimits()


@pytest.mark.parametrize(
    "name, value",
    [
        ("ESCBOT_CONNECTION_LIMIT", "lots"),
        ("ESCBOT_CONNECTION_LIMIT", "5"),
        ("ESCBOT_CHANNEL_TIMEOUT", "-1"),
        ("ESCBOT_CLIENT_CONNECTIONS", "0"),
        ("ESCBOT_HEADER_TIMEOUT", "soon"),
        ("ESCBOT_METRICS_ADDR", "9100"),
        ("ESCBOT_METRICS_ADDR", "localhost:http"),
        ("ESCBOT_THREADS", "0"),
    ],
)
def test_a_bad_server_setting_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(BASE_ENV | {name: value})


def test_the_server_limits_are_the_configured_ones(runtime_with) -> None:  # type: ignore[no-untyped-def]
    limits = HttpLimits(connection_limit=321, client_connections=9, trusted_proxy="10.0.0.2")
    front = runtime_with(http=limits).server.server
    assert front.limits == limits
    admission = front.admission
    assert (admission.total, admission.per_client, admission.exempt) == (321, 9, "10.0.0.2")
