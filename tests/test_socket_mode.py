"""The emulator's Socket Mode, checked against slack_sdk's and Bolt's own client.

A bare Bolt app (not escbot) connects with ``SocketModeHandler`` through the emulator's
``apps.connections.open``; a ``SlackUser`` sends its requests as envelopes over the real
WebSocket. What the emulator says Slack does (hello, acks, disconnect, retries) is what the
real client must cope with, so these tests fail if the emulator drifts from the protocol.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.emulator import FakeSlack, Lenient, SlackUser

APP_TOKEN = "xapp-1-A0ESCBOT-1-test"
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"


@pytest.fixture
def fake(request) -> Iterator[FakeSlack]:  # type: ignore[no-untyped-def]
    marker = request.node.get_closest_marker("lenient")
    with FakeSlack(lenient=Lenient(**marker.kwargs) if marker else None) as fake:
        fake.enable_socket_mode(APP_TOKEN)
        fake.add_channel(CHANNEL, "general")
        fake.invite(CHANNEL)  # message events come only from channels the bot is in
        yield fake


class BareApp:
    """A Bolt app with one listener per envelope type; remembers what it saw."""

    def __init__(self, fake: FakeSlack) -> None:
        client = WebClient(token="xoxb-bare", base_url=fake.url)
        self.app = App(client=client, token_verification_enabled=False)
        self.seen: list[tuple[str, Any]] = []
        self.slow = 0.0
        app = self.app

        @app.command("/hello")
        def hello(ack: Any, command: dict[str, Any]) -> None:
            time.sleep(self.slow)
            ack(f"hello <@{command['user_id']}>")
            self.seen.append(("command", command["text"]))

        @app.view("form")
        def form(ack: Any, view: dict[str, Any]) -> None:
            ack(response_action="errors", errors={"name": "Say who you are"})
            self.seen.append(("view", view["id"]))

        @app.action("go")
        def go(ack: Any, body: dict[str, Any]) -> None:
            ack()
            self.seen.append(("action", body["actions"][0]["value"]))

        @app.shortcut("hi")
        def hi(ack: Any, shortcut: dict[str, Any]) -> None:
            ack()
            self.seen.append(("shortcut", shortcut["callback_id"]))

        @app.event("message")
        def message(event: dict[str, Any], request: Any) -> None:
            retry = request.headers.get("x-slack-retry-num", [None])[0]
            self.seen.append(("message", (event["text"], retry)))

        self.handler = SocketModeHandler(app, APP_TOKEN, ping_interval=1)

    def kinds(self, kind: str) -> list[Any]:
        return [v for k, v in self.seen if k == kind]


@pytest.fixture
def bare(fake: FakeSlack) -> Iterator[BareApp]:
    bare = BareApp(fake)
    bare.handler.connect()
    fake.socket.wait_connected()
    yield bare
    bare.handler.close()


def wait(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.02)


def button_message() -> dict[str, Any]:
    button = {"type": "button", "text": {"type": "plain_text", "text": "Go"}}
    button |= {"action_id": "go", "value": "v1"}
    return {
        "channel": CHANNEL,
        "ts": "1700000000.000100",
        "blocks": [{"type": "actions", "block_id": "b", "elements": [button]}],
    }


def test_apps_connections_open_takes_only_an_app_token_with_connections_write(fake) -> None:
    client = WebClient(base_url=fake.url)
    fake.enable_socket_mode("xapp-1-noscope", scopes=("authorizations:read",))
    for token, error in [
        ("xoxb-bot-token", "not_allowed_token_type"),
        ("xapp-1-unknown", "invalid_auth"),
        ("xapp-1-noscope", "missing_scope"),
    ]:
        with pytest.raises(SlackApiError) as err:
            client.apps_connections_open(app_token=token)
        assert err.value.response["error"] == error
    assert err.value.response["needed"] == "connections:write"
    url = client.apps_connections_open(app_token=APP_TOKEN)["url"]
    assert url.startswith(f"ws://127.0.0.1:{fake.socket.port}/link/?ticket=")


def test_bare_bolt_app_answers_every_envelope_type(fake, bare) -> None:
    user = SlackUser("", "", user_id=ALICE, fake=fake, transport="socket")

    resp = user.command("/hello", "there", channel_id=CHANNEL)
    assert resp.status_code == 200 and resp.json() == {"text": f"hello <@{ALICE}>"}
    assert fake.ephemerals(ALICE)[0].text == f"hello <@{ALICE}>"  # shown like an HTTP ack

    view = {"id": "V1", "type": "modal", "callback_id": "form", "blocks": []}
    resp = user.submit_view(view)
    assert resp.json() == {"response_action": "errors", "errors": {"name": "Say who you are"}}

    assert user.click(button_message(), "Go").status_code == 200
    assert user.global_shortcut("hi").status_code == 200
    assert user.message(CHANNEL, "hi all").status_code == 200
    wait(lambda: len(bare.seen) == 5)
    assert bare.kinds("action") == ["v1"] and bare.kinds("shortcut") == ["hi"]
    assert bare.kinds("message") == [("hi all", "0")]  # Bolt passes retry_attempt 0 on

    sent = fake.socket.deliveries
    assert [d.type for d in sent] == ["slash_commands"] + ["interactive"] * 3 + ["events_api"]
    assert [d.accepts_response_payload for d in sent] == [True, True, False, False, False]
    assert all(d.latency is not None and d.latency < 3 for d in sent)
    assert fake.socket.failures == []
    opened = [c for c in fake.calls_to("apps.connections.open") if c.ok]
    assert len(opened) == 1


#: four connections in seconds: apps.connections.open is Tier 1 (a minute's pace after a
#: small burst), which would throttle the reconnections this test is about
@pytest.mark.lenient(no_rate_tiers=True)
def test_refresh_drop_and_network_cut_reconnect_and_redeliver_events(fake, bare) -> None:
    user = SlackUser("", "", user_id=ALICE, fake=fake, transport="socket")

    fake.socket.disconnect("refresh_requested")  # Slack's routine refresh
    fake.socket.wait_connected(opened=2)
    assert user.message(CHANNEL, "after refresh").status_code == 200

    fake.drop_socket()  # no warning: the client sees the close frame
    fake.socket.wait_connected(opened=3)
    assert user.command("/hello", "after drop").status_code == 200

    with fake.socket.offline():
        assert user.message(CHANNEL, "while offline").status_code == 202  # kept for later
        assert user.click(button_message(), "Go").status_code == 503  # the person sees it fail
    fake.socket.wait_connected(opened=4)
    fake.socket.wait_idle()
    wait(lambda: ("while offline", "1") in bare.kinds("message"))
    assert bare.kinds("action") == []  # interactivity is not retried
    assert bare.kinds("message") == [("after refresh", "0"), ("while offline", "1")]
    assert fake.socket.failures == []


def test_a_lost_ack_makes_slack_deliver_the_event_again(fake, bare) -> None:
    user = SlackUser("", "", user_id=ALICE, fake=fake, transport="socket")
    fake.socket.lose_acks(1)
    assert user.message(CHANNEL, "once?").status_code == 202
    fake.socket.wait_idle()
    wait(lambda: len(bare.kinds("message")) == 2)
    # At least once: a bare app sees it twice, the retry marked; escbot claims event ids.
    assert bare.kinds("message") == [("once?", "0"), ("once?", "1")]
    retry = fake.socket.deliveries[-1]
    assert (retry.type, retry.retry_attempt) == ("events_api", 1)


def test_a_late_ack_is_a_failure_the_test_sees(fake) -> None:
    with FakeSlack() as strict:
        socket = strict.enable_socket_mode(APP_TOKEN, ack_timeout=0.3)
        bare = BareApp(strict)
        bare.slow = 0.6
        bare.handler.connect()
        try:
            socket.wait_connected()
            user = SlackUser("", "", user_id=ALICE, fake=strict, transport="socket")
            assert user.command("/hello", "slow").status_code == 504  # "didn't respond"
            wait(lambda: len(socket.failures) == 2)
        finally:
            bare.handler.close()
    missing, late = socket.failures
    assert "not acked within 0.3s" in missing and "acked late" in late


def test_wss_with_a_certificate_the_client_trusts(fake) -> None:
    """TLS end to end: apps.connections.open hands out wss://, the handshake verifies."""
    trustme = pytest.importorskip("trustme")
    from websockets.sync.client import connect

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    with FakeSlack() as secure:
        secure.enable_socket_mode(APP_TOKEN, ssl_context=server_ctx)
        url = WebClient(base_url=secure.url).apps_connections_open(app_token=APP_TOKEN)["url"]
        assert url.startswith("wss://127.0.0.1:")
        with pytest.raises(ssl.SSLCertVerificationError):
            connect(url, ssl=ssl.create_default_context(), open_timeout=5)
        url = WebClient(base_url=secure.url).apps_connections_open(app_token=APP_TOKEN)["url"]
        with connect(url, ssl=client_ctx, open_timeout=5) as ws:
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
            answers: list[Any] = []
            event = {"type": "event_callback", "event_id": "Ev1", "event": {"type": "x"}}
            sender = threading.Thread(
                target=lambda: answers.append(secure.socket.send_event(event))
            )
            sender.start()
            envelope = json.loads(ws.recv(timeout=5))
            assert envelope["type"] == "events_api" and envelope["retry_attempt"] == 0
            assert envelope["accepts_response_payload"] is False
            ws.send(json.dumps({"envelope_id": envelope["envelope_id"]}))
            sender.join(5)
        assert answers[0].status == 200 and secure.socket.failures == []


def test_escbot_refuses_a_wrong_app_token_and_shuts_down_cleanly(
    db_url, config, fake_slack
) -> None:  # type: ignore[no-untyped-def]
    from bot.runtime import Runtime
    from bot.settings import Settings
    from bot.slack.identity import TokenRefused

    socket = fake_slack.enable_socket_mode(APP_TOKEN)

    def runtime(app_token: str) -> Runtime:
        settings = Settings(
            bot_token="xoxb-test",
            signing_secret="s",
            app_token=app_token,
            api_url=fake_slack.url,
            database_url=db_url,
            host="127.0.0.1",
            port=0,
        )
        return Runtime.build(settings, config)

    wrong = runtime("xoxb-pasted-the-bot-token")
    try:
        with pytest.raises(TokenRefused, match=r"refused .*\(not_allowed_token_type\)"):
            wrong.start()
    finally:
        wrong.shutdown()

    escbot = runtime(APP_TOKEN).start()
    try:
        socket.wait_connected()
    finally:
        escbot.shutdown()
    wait(lambda: socket.connected == 0)  # the client closed its end: nothing left behind
